"""PT2E quantization shared by ExecuTorch (XNNPACKQuantizer) and litert-torch (PT2EQuantizer).

Layers are torch module paths (`features.3.conv.0`); a layer kept in float is left
unannotated by the quantizer, so its conv/linear (and fused bn/relu) run in float.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from edge_kit.errors import UnsupportedError

LAYER_OPS = ("conv1d", "conv2d", "conv3d", "conv_transpose", "linear", "addmm", "mm")


def module_path(node: Any) -> str | None:
    """The innermost module path a graph node came from ('' for the root), or None."""
    stack = node.meta.get("nn_module_stack") or {}
    if not stack:
        return None
    path = list(stack.values())[-1][0]
    return path.removeprefix("L['self'].")


def _is_layer(node: Any) -> bool:
    return node.op == "call_function" and op_name(node) in LAYER_OPS


def layer_names(graph_module: Any) -> list[str]:
    """Module paths of the conv/linear layers, in graph order (what `keep_float` takes)."""
    out: list[str] = []
    for node in graph_module.graph.nodes:
        path = module_path(node) if _is_layer(node) else None
        if path and path not in out:
            out.append(path)
    return out


def attr_target(node: Any) -> str | None:
    """The state entry a `get_attr` node reads (`features.0.0.weight`), or None for other nodes."""
    return node.target if getattr(node, "op", None) == "get_attr" else None


def op_name(node: Any) -> str:
    """An FX node target's short ATen name: `conv2d`, `batch_norm`, `add`."""
    return str(getattr(node.target, "__name__", node.target)).split(".")[0]


def float_only(node: Any) -> bool:
    """False for a node that reads or writes integer / bool tensors (token ids, positions, masks,
    shapes): quantizing those casts indices to float (an embedding's ids, an index op's positions)."""
    values = [node.meta.get("val"), *(arg.meta.get("val") for arg in node.all_input_nodes)]
    return not any(
        hasattr(v, "dtype") and hasattr(v, "is_floating_point") and not v.is_floating_point() for v in values
    )


def keep_filter(keep: Sequence[str], ops: Sequence[str] = ()) -> Callable[[Any], bool]:
    """A node filter: True for nodes the quantizer may annotate (not inside a kept module,
    not an op type kept in float, e.g. `linear`, no integer tensor in or out)."""
    kept, kept_ops = set(keep), set(ops)

    def quantize_node(node: Any) -> bool:
        if node.op == "call_function" and (op_name(node) in kept_ops or not float_only(node)):
            return False
        stack = node.meta.get("nn_module_stack") or {}
        return not any(path.removeprefix("L['self'].") in kept for path, _ in stack.values())

    return quantize_node


OBSERVER_EPS = 2**-12  # the XNNPACK quantizer's smallest activation scale


@functools.cache
def _percentile_observer() -> type[Any]:
    """A HistogramObserver whose range keeps the central `percentile` % of the observed values
    ((100 - p) / 2 % cut on each side, like onnxruntime's percentile calibration) instead of its
    own L2 search."""
    import torch
    from torchao.quantization.pt2e.observer import HistogramObserver

    class PercentileObserver(HistogramObserver):
        def __init__(self, percentile: float = 99.99, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.percentile = percentile

        def _non_linear_param_search(self) -> tuple[Any, Any]:
            cdf = self.histogram.double().cumsum(0)
            cdf /= cdf[-1].clamp_min(1e-30)
            cut = torch.tensor([(100 - self.percentile) / 200, 1 - (100 - self.percentile) / 200], dtype=cdf.dtype)
            lo, hi = torch.searchsorted(cdf, cut).tolist()
            width = (self.max_val - self.min_val) / self.bins
            return self.min_val + width * lo, self.min_val + width * min(hi + 1, self.bins)

    return PercentileObserver


def with_activation_calibration(config: Any, recipe: Any) -> Any:
    """`config` with the recipe's activation observers: `histogram` (the quantizers' own L2
    search, unchanged), `minmax`, or `percentile` (recipe.percentile, recipe.histogram_bins)."""
    from torchao.quantization.pt2e.observer import MinMaxObserver

    if recipe.calibration_method == "minmax":
        observer = MinMaxObserver.with_args(eps=OBSERVER_EPS)
    elif recipe.calibration_method == "percentile":
        observer = _percentile_observer().with_args(
            percentile=recipe.percentile, bins=recipe.histogram_bins, eps=OBSERVER_EPS
        )
    else:
        return config

    def swap(spec: Any) -> Any:
        if spec is None or getattr(spec, "is_dynamic", False):
            return spec
        return dataclasses.replace(spec, observer_or_fake_quant_ctr=observer)

    return dataclasses.replace(
        config, input_activation=swap(config.input_activation), output_activation=swap(config.output_activation)
    )


CLAMPS = ("hardtanh", "hardtanh_", "relu6", "clamp")


def _fuse_clamps(model: Any) -> int:
    """Quantize after a ReLU6/clamp instead of before it (what a fused conv+ReLU6 kernel does).

    The quantizers observe a conv's output before its ReLU6, so the int8 range spans the
    unclipped values (e.g. [-30, 25] instead of [0, 6]): ~8x coarser steps where it matters.
    Moving the conv's output spec onto the clamp keeps the conv's output in float until
    the clamp; the delegates fuse the pair into one quantized conv with output bounds.
    """
    from torchao.quantization.pt2e.quantizer import QuantizationAnnotation

    moved = 0
    for node in model.graph.nodes:
        if node.op != "call_function" or op_name(node) not in CLAMPS or not node.args:
            continue
        producer = node.args[0]
        ann = getattr(producer, "meta", {}).get("quantization_annotation")
        if ann is None or ann.output_qspec is None or len(producer.users) != 1:
            continue
        node.meta["quantization_annotation"] = QuantizationAnnotation(output_qspec=ann.output_qspec, _annotated=True)
        ann.output_qspec = None
        moved += 1
    return moved


def fuse_clamp_outputs(quantizer: Any) -> Any:
    """`quantizer` whose static annotations end after a following ReLU6/clamp (see `_fuse_clamps`)."""
    annotate = quantizer.annotate

    def annotate_then_fuse(model: Any) -> Any:
        model = annotate(model)
        _fuse_clamps(model)
        return model

    quantizer.annotate = annotate_then_fuse
    return quantizer


def _float_scalars_to_attrs(model: Any) -> Any:
    """The quantizers' scalar-to-tensor pass for float add/mul only.

    XNNPACK's and litert-torch's `transform_for_annotation` turn every scalar operand of an
    add/mul into a float32 tensor constant so it can be observed, including integer arithmetic
    such as `arange(n) + offset` (transformers' position ids): the positions then index as
    floats and the model fails (IndexError). Integer add/mul keep their scalars here."""
    import torch
    from torchao.quantization.pt2e.utils import get_new_attr_name_with_prefix

    targets = (torch.ops.aten.add.Tensor, torch.ops.aten.mul.Tensor)
    for node in model.graph.nodes:
        val = node.meta.get("val")
        if node.op != "call_function" or node.target not in targets or not getattr(val, "is_floating_point", bool)():
            continue
        args = []
        for arg in node.args:
            if isinstance(arg, (int, float)) and not isinstance(arg, bool):
                name = get_new_attr_name_with_prefix("_tensor_constant_")(model)
                model.register_buffer(name, torch.tensor(float(arg)))
                with model.graph.inserting_before(node):
                    arg = model.graph.create_node("get_attr", name, (), {})
                    arg.meta["val"] = val.fake_mode.from_tensor(getattr(model, name), static_shapes=True)
            args.append(arg)
        node.args = tuple(args)
    model.recompile()
    return model


def integer_safe(quantizer: Any) -> Any:
    """`quantizer` whose scalar-to-tensor transform leaves integer arithmetic alone (see above)."""
    quantizer.transform_for_annotation = _float_scalars_to_attrs
    return quantizer


def _is_table(node: Any) -> bool:
    """An aten.embedding whose table is a constant of the graph (a weight, not an activation)."""
    import torch

    table = node.args[0] if node.args else None
    return node.target is torch.ops.aten.embedding.default and getattr(table, "op", None) == "get_attr"


def with_embedding_tables(quantizer: Any, keep: Sequence[str] = ()) -> Any:
    """`quantizer` that also quantizes embedding tables weight-only: 8-bit per row, float scales
    and zero points (torchao's embedding spec; ExecuTorch fuses it into `embedding_byte`).

    The XNNPACK quantizer leaves embeddings alone (the delegate has no lookup), so a
    transformer's largest tensor stayed float. Ids are never observed; tables inside kept
    modules stay float."""
    from torchao.quantization.pt2e.quantizer import QuantizationAnnotation
    from torchao.quantization.pt2e.quantizer.embedding_quantizer import get_embedding_operators_config

    spec = get_embedding_operators_config().config.weight
    annotate, kept = quantizer.annotate, keep_filter(keep)

    def annotate_with_tables(model: Any) -> Any:
        model = annotate(model)
        for node in model.graph.nodes:
            if node.op == "call_function" and _is_table(node) and kept(node.args[0]):
                node.meta["quantization_annotation"] = QuantizationAnnotation(
                    input_qspec_map={node.args[0]: spec}, _annotated=True
                )
        return model

    quantizer.annotate = annotate_with_tables
    return quantizer


def has_tables(graph_module: Any) -> bool:
    """Whether the graph looks up rows of a constant embedding table."""
    return any(node.op == "call_function" and _is_table(node) for node in graph_module.graph.nodes)


def graph_module(source: Any) -> Any:
    """A fresh, independent graph module of the source (PT2E mutates what it is given)."""
    return copy.deepcopy(source.exported_program.module())


def quantize(
    source: Any,
    quantizer: Any,
    calibration: Sequence[Sequence[np.ndarray]] | None,
    fold_quantize: bool = True,
    keep_all: bool = False,
) -> Any:
    """prepare_pt2e → run the calibration batches → convert_pt2e; the quantized graph module.

    Quantizing nothing is an UnsupportedError unless every layer was kept in float on purpose."""
    import torch
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    quantizer = integer_safe(quantizer)
    if calibration:  # static int8: quantize after ReLU6 like the fused kernels do
        quantizer = fuse_clamp_outputs(quantizer)
    prepared = prepare_pt2e(graph_module(source), quantizer)
    with torch.no_grad():
        for arrays in calibration or [[a.numpy() for a in source.example_inputs()]]:
            prepared(*[torch.from_numpy(np.ascontiguousarray(a)) for a in arrays])
    converted = convert_pt2e(prepared, fold_quantize=fold_quantize)
    drop_unused_state(converted)
    if (
        not any("quantize" in str(node.target) for node in converted.graph.nodes if node.op == "call_function")
        and not keep_all
    ):
        raise UnsupportedError(
            f"{type(quantizer).__name__} found no layer it can quantize in this model (unsupported op types)",
            hint="try another precision or format; see `edgekit recipes`",
        )
    return converted


def drop_unused_state(graph_module: Any) -> int:
    """Delete the parameters and buffers no node reads any more; how many.

    convert_pt2e folds each quantized weight into a new int8 constant but leaves the float
    original registered: as a buffer (TorchScript sources keep weights as buffers) it would be
    exported and serialized next to its int8 copy."""
    used = {node.target for node in graph_module.graph.nodes if node.op == "get_attr"}
    unused = [name for name, _ in (*graph_module.named_parameters(), *graph_module.named_buffers()) if name not in used]
    for name in unused:
        owner, _, leaf = name.rpartition(".")
        delattr(graph_module.get_submodule(owner) if owner else graph_module, leaf)
    return len(unused)


def half_module(module: Any) -> Any:
    """`module` in float16 with float32 inputs and outputs (casts at the edges)."""
    import torch

    class HalfWrapper(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = copy.deepcopy(inner).half()

        def forward(self, *args: torch.Tensor) -> Any:
            out = self.inner(*[a.half() if a.is_floating_point() else a for a in args])
            if isinstance(out, (tuple, list)):
                return type(out)(o.float() for o in out)
            return out.float()

    return HalfWrapper(module).eval()
