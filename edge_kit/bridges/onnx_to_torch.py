"""ONNX → `torch.export.ExportedProgram`: the bridge that lets an ONNX source reach the torch routes.

Three stages, each named in the error when it fails:

1. **clean-up** (onnxslim): the graph input shapes are fixed to the requested ones (axes named in
   `dynamic` stay symbolic), then constant folding and shape inference. This turns `Constant`
   nodes into initializers (onnx2torch reads weights only from initializers: PP-OCR's Paddle
   exports fail without it) and shape sub-graphs (`Shape → Gather → Concat → Reshape`) into
   constants.
2. **convert** (onnx2torch, with `onnx2torch_compat`'s converters that read constant shape
   arguments at conversion time): an `fx.GraphModule` with one submodule per ONNX node.
3. **export** (`torch.export.export`, non-strict) at the requested shapes.

When a stage fails, `ExportError` (exit 5) names the stage and the first ONNX node that blocks it
(op type and name): for convert, the first node without a working converter; for export, the node
whose module was running when tracing stopped.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edge_kit.errors import ExportError, ModelLoadError, UsageError
from edge_kit.signature import TensorSpec

Dynamic = Mapping[str, Mapping[int, str]]  # spec name → {axis: dimension name}; equal names share a Dim
STAGES = ("clean-up", "convert", "export")


@dataclass
class BridgeResult:
    """The exported program and what happened on the way (for the manifest / route record)."""

    program: Any  # torch.export.ExportedProgram
    seconds: dict[str, float] = field(default_factory=dict)  # per stage
    nodes_before: int = 0  # ONNX nodes in the source graph
    nodes_after: int = 0  # after clean-up
    notes: list[str] = field(default_factory=list)

    def facts(self) -> dict[str, Any]:
        return {
            "bridge": "onnxslim → onnx2torch → torch.export",
            "bridge_seconds": {k: round(v, 2) for k, v in self.seconds.items()},
            "onnx_nodes": {"source": self.nodes_before, "cleaned": self.nodes_after},
            **({"bridge_notes": self.notes} if self.notes else {}),
        }


@dataclass(frozen=True)
class Blocker:
    """The ONNX node a stage failed on (when one is to blame)."""

    op_type: str
    name: str

    def __str__(self) -> str:
        return f"{self.op_type} node '{self.name}'" if self.name else f"{self.op_type} node (unnamed)"


def bridge_error(path: Path, stage: str, exc: BaseException, blocker: Blocker | None) -> ExportError:
    """One line: which stage failed, on which node, and the converter's first meaningful line."""
    where = f" at {blocker}" if blocker else ""
    return ExportError(
        f"cannot convert {path.name} from ONNX to torch: {stage} failed{where}: {first_line(exc)}",
        hint="export to onnx instead, or simplify/replace that node in the source model",
        stage=stage,
        node=None if blocker is None else {"op_type": blocker.op_type, "name": blocker.name},
        detail=f"{type(exc).__name__}: {exc}",
    )


def first_line(exc: BaseException, limit: int = 240) -> str:
    """The first non-empty line of an exception's text that says something (not a traceback frame)."""
    for line in str(exc).splitlines():
        text = line.strip()
        if text and not text.startswith(("Traceback", 'File "', "^", "~")):
            return f"{type(exc).__name__}: {text}"[:limit]
    return type(exc).__name__


# ---------------------------------------------------------------------------------------------- stage 1


def _bind_specs(graph: Any, specs: Sequence[TensorSpec]) -> dict[str, TensorSpec]:
    """Graph input name → spec: by name when every spec names an input, else by position."""
    inits = {i.name for i in graph.initializer}
    names = [i.name for i in graph.input if i.name not in inits]
    if len(specs) != len(names):
        raise UsageError(f"the ONNX model has {len(names)} input(s) ({', '.join(names)}) but {len(specs)} were given")
    if all(s.name in names for s in specs):
        return {s.name: s for s in specs}
    return dict(zip(names, specs))


def fix_input_shapes(model: Any, specs: Sequence[TensorSpec], dynamic: Dynamic | None) -> Any:
    """Set the graph inputs' shapes to the specs (dynamic axes get their dimension name) and drop
    intermediate shapes inferred for other sizes, so clean-up infers them again."""
    bound = _bind_specs(model.graph, specs)
    for value in model.graph.input:
        spec = bound.get(value.name)
        if spec is None:
            continue
        if not spec.static:
            raise UsageError(f"input '{spec.name}' needs a concrete shape, got {list(spec.shape)}")
        axes = (dynamic or {}).get(spec.name, {})
        shape = value.type.tensor_type.shape
        shape.ClearField("dim")
        for axis, size in enumerate(spec.shape):
            dim = shape.dim.add()
            if axis in axes:
                dim.dim_param = axes[axis]
            else:
                dim.dim_value = int(size)  # type: ignore[arg-type]
    del model.graph.value_info[:]
    return model


def bind_constants(model: Any, specs: Sequence[TensorSpec]) -> list[int]:
    """Make every input given as a constant (`--input-spec sr=:int64:16000`) an initializer, so
    clean-up folds what depends on it (silero-vad's `If` on the sample rate takes its branch).
    Returns, for each graph input left, the index of its spec: the converted module takes those."""
    from onnx import numpy_helper

    bound = _bind_specs(model.graph, specs)
    index = {id(spec): i for i, spec in enumerate(specs)}
    inits = {i.name for i in model.graph.initializer}
    kept, order = [], []
    for value in model.graph.input:
        spec = bound.get(value.name)
        if spec is not None and spec.kind == "const" and spec.value is not None and spec.static:
            array = np.full([int(d or 0) for d in spec.shape], spec.value, dtype=np.dtype(spec.dtype))
            model.graph.initializer.append(numpy_helper.from_array(array, value.name))
            continue
        kept.append(value)
        if value.name not in inits and spec is not None:
            order.append(index[id(spec)])
    del model.graph.input[:]
    model.graph.input.extend(kept)
    return order


def clean_up(model: Any) -> Any:
    """onnxslim: constant folding, dead-node removal and shape inference (output to stderr only)."""
    import onnx
    import onnxslim

    copy = onnx.ModelProto()
    copy.CopyFrom(model)  # onnxslim edits its input in place; a failed clean-up must leave `model` intact
    with contextlib.redirect_stdout(sys.stderr):
        cleaned = onnxslim.slim(copy)
    if cleaned is None:
        raise RuntimeError("onnxslim returned no model")
    return cleaned


PADDED_OPS = ("Conv", "ConvTranspose", "MaxPool", "AveragePool", "LpPool")


def explicit_pads(model: Any) -> int:
    """Rewrite `auto_pad` SAME_UPPER/SAME_LOWER (TensorFlow and JAX exporters write it; onnx2torch
    does not convert it) as explicit pads, from the inferred input shapes; the number rewritten."""
    import math

    from onnx import helper, numpy_helper

    shapes = {
        v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
        for v in [*model.graph.input, *model.graph.value_info]
    }
    weights = {i.name: list(numpy_helper.to_array(i).shape) for i in model.graph.initializer}
    done = 0
    for node in model.graph.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        mode = attrs.get("auto_pad", b"NOTSET")
        mode = mode.decode() if isinstance(mode, bytes) else str(mode)
        if node.op_type not in PADDED_OPS or not mode.startswith("SAME") or node.op_type == "ConvTranspose":
            continue
        spatial = (shapes.get(node.input[0]) or [])[2:]
        kernel = attrs.get("kernel_shape") or (weights.get(node.input[1], [])[2:] if len(node.input) > 1 else [])
        if not spatial or not all(spatial) or len(kernel) != len(spatial):
            continue  # sizes unknown: leave it to the converter (which then names the node)
        strides = attrs.get("strides") or [1] * len(spatial)
        dilations = attrs.get("dilations") or [1] * len(spatial)
        begin, end = [], []
        for size, k, s, d in zip(spatial, kernel, strides, dilations):
            total = max((math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size, 0)
            small, large = total // 2, total - total // 2
            begin.append(small if mode == "SAME_UPPER" else large)
            end.append(large if mode == "SAME_UPPER" else small)
        kept = [a for a in node.attribute if a.name not in ("auto_pad", "pads")]
        del node.attribute[:]
        node.attribute.extend([*kept, helper.make_attribute("pads", begin + end)])
        done += 1
    return done


def split_graph_outputs(model: Any) -> int:
    """Give each graph output taken from a multi-output node (LSTM's Y, a Split piece) an Identity
    of its own: onnx2torch returns such a node's whole tuple as the output. The number rewritten."""
    from onnx import helper

    wanted = {o.name for o in model.graph.output}
    nodes, done = [], 0
    for node in model.graph.node:
        nodes.append(node)
        if len([o for o in node.output if o]) < 2:
            continue
        for i, name in enumerate(node.output):
            if name in wanted:
                node.output[i] = f"{name}__edgekit_out"
                nodes.append(helper.make_node("Identity", [node.output[i]], [name], name=f"{name}__edgekit_identity"))
                done += 1
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    return done


def fold_constants(model: Any) -> Any:
    """ONNX Runtime's basic (semantics-preserving, standard-op) optimizations on a graph with fixed
    input shapes: shape arithmetic the converters emit for broadcasting (Shape → TopK → Unique, as
    tf2onnx writes for a batch-polymorphic matmul) folds to constants onnx2torch can take."""
    import onnx
    import onnxruntime as ort

    with tempfile.TemporaryDirectory(prefix="edgekit-fold-") as tmp:
        source, folded = Path(tmp) / "in.onnx", Path(tmp) / "folded.onnx"
        onnx.save(model, str(source))
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = str(folded)
        options.log_severity_level = 3
        ort.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])
        return onnx.load(str(folded))


# ---------------------------------------------------------------------------------------------- stage 2


def _blocking_converter(model: Any) -> tuple[Blocker | None, BaseException | None]:
    """Replay onnx2torch's per-node conversion to find the first node it cannot convert."""
    from edge_kit.bridges.onnx2torch_compat import load_onnx2torch

    load_onnx2torch()  # onnx2torch's converters import torchvision: the compat loader stands in for it
    from onnx2torch.node_converters import get_converter
    from onnx2torch.onnx_graph import OnnxGraph

    opsets = {o.domain: o.version for o in model.opset_import}
    graph = OnnxGraph(model.graph)
    for node in graph.nodes.values():
        blocker, opset = Blocker(node.operation_type, node.name), opsets.get(node.domain, 1)
        try:
            converter = get_converter(node.operation_type, opset, node.domain)
        except NotImplementedError:
            return blocker, NotImplementedError(
                f"onnx2torch has no converter for {node.operation_type} at opset {opset}"
            )
        try:
            converter(node, graph)
        except Exception as exc:  # noqa: BLE001 - converters raise anything on inputs they do not expect
            return blocker, exc
    return None, None


def to_torch(model: Any, path: Path) -> Any:
    """onnx2torch conversion; an ExportError naming the first node it cannot convert."""
    from edge_kit.bridges.onnx2torch_compat import load_onnx2torch

    onnx2torch = load_onnx2torch()
    try:
        return onnx2torch.convert(model)
    except Exception as exc:
        blocker, node_exc = _blocking_converter(model)
        raise bridge_error(path, "convert", node_exc or exc, blocker) from exc


# ---------------------------------------------------------------------------------------------- stage 3


@contextlib.contextmanager
def _tracking(module: Any, model: Any) -> Iterator[list[Blocker]]:
    """Record which ONNX node's module is running (hooks on the GraphModule's children)."""
    from onnx2torch.onnx_graph import OnnxGraph

    nodes = {name: Blocker(n.operation_type, n.name) for name, n in OnnxGraph(model.graph).nodes.items()}
    running: list[Blocker] = []
    handles = []
    for name, child in module.named_children():
        if name in nodes:
            blocker = nodes[name]
            handles.append(child.register_forward_pre_hook(lambda *_, b=blocker: running.append(b)))
            handles.append(child.register_forward_hook(lambda *_, b=blocker: running.remove(b)))
    try:
        yield running
    finally:
        for handle in handles:
            handle.remove()


def _example(specs: Sequence[TensorSpec]) -> tuple[Any, ...]:
    import torch

    from edge_kit.signature import random_inputs

    return tuple(torch.from_numpy(a) for a in random_inputs(specs, 1, seed=1234)[0])


def _dynamic_shapes(specs: Sequence[TensorSpec], dynamic: Dynamic | None) -> Any:
    if not dynamic:
        return None
    from torch.export import Dim

    dims: dict[str, Any] = {}
    return tuple(
        {axis: dims.setdefault(label, Dim(label)) for axis, label in dynamic.get(s.name, {}).items()} or None
        for s in specs
    )


def export(
    module: Any, model: Any, specs: Sequence[TensorSpec], dynamic: Dynamic | None, path: Path, order: list[int]
) -> Any:
    """torch.export of the converted module, taking every spec's input (`order`: which of them the
    graph still reads); an ExportError naming the node being traced when it failed."""
    import torch

    from edge_kit.bridges.static_ops import TakesEveryInput

    module.eval()
    traced = module if order == list(range(len(specs))) else TakesEveryInput(module, order)
    with _tracking(module, model) as running:
        try:
            return torch.export.export(traced, _example(specs), dynamic_shapes=_dynamic_shapes(specs, dynamic))
        except Exception as exc:
            raise bridge_error(path, "export", exc, running[-1] if running else None) from exc


def data_dependent_nodes(program: Any, model: Any) -> list[Blocker]:
    """ONNX nodes whose converted code reads a tensor's value as a Python number (`.item()`, `.tolist()`):
    torch.export keeps them as `_local_scalar_dense`, which some backends cannot lower."""
    from onnx2torch.onnx_graph import OnnxGraph

    nodes = {name: Blocker(n.operation_type, n.name) for name, n in OnnxGraph(model.graph).nodes.items()}
    found: list[Blocker] = []
    for node in program.graph.nodes:
        if node.op != "call_function" or "_local_scalar_dense" not in str(node.target):
            continue
        stack = list((node.meta.get("nn_module_stack") or {}).values())
        path = stack[-1][0].removeprefix("L['self'].").removeprefix("inner.") if stack else ""
        blocker = nodes.get(path) or Blocker(str(node.target), node.name)
        if blocker not in found:
            found.append(blocker)
    return found


# ---------------------------------------------------------------------------------------------- API


def convert(path: Path, input_specs: Sequence[TensorSpec], dynamic: Dynamic | None = None) -> BridgeResult:
    """ONNX file → ExportedProgram at `input_specs`' shapes, with timings and notes."""
    import onnx

    path = Path(path)
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # noqa: BLE001 - protobuf decode errors and OSError
        raise ModelLoadError(f"cannot read {path.name} as ONNX: {first_line(exc)}") from None
    result = BridgeResult(program=None, nodes_before=len(model.graph.node))
    clock = time.perf_counter()
    model = fix_input_shapes(model, input_specs, dynamic)
    order = bind_constants(model, input_specs)
    if len(order) < len(input_specs):
        result.notes.append(f"{len(input_specs) - len(order)} input(s) given as constants folded into the graph")
    try:
        model = clean_up(model)
    except Exception as exc:  # noqa: BLE001 - onnxslim may fail on graphs it does not know; convert anyway
        result.notes.append(f"clean-up skipped ({first_line(exc)})")
    import onnx

    model = onnx.shape_inference.infer_shapes(model)
    if padded := explicit_pads(model):
        result.notes.append(f"{padded} SAME auto_pad node(s) given explicit pads")
    split_graph_outputs(model)
    result.nodes_after = len(model.graph.node)
    result.seconds["clean-up"] = time.perf_counter() - clock
    clock = time.perf_counter()
    if not dynamic and _blocking_converter(model)[0] is not None:
        try:
            model = fold_constants(model)
            result.notes.append("constants folded by onnxruntime (a node onnx2torch lacks was shape arithmetic)")
        except Exception as exc:  # noqa: BLE001 - keep the unfolded graph: to_torch names the blocker
            result.notes.append(f"constant folding skipped ({first_line(exc)})")
    module = to_torch(model, path)
    result.seconds["convert"] = time.perf_counter() - clock
    clock = time.perf_counter()
    result.program = export(module, model, input_specs, dynamic, path, order)
    result.seconds["export"] = time.perf_counter() - clock
    scalars = data_dependent_nodes(result.program, model)
    if scalars:
        result.notes.append(
            "values read at run time (may not lower to TFLite) at " + ", ".join(str(b) for b in scalars[:5])
        )
    return result


def onnx_to_exported_program(path: Path, input_specs: list[TensorSpec], dynamic: Dynamic | None = None) -> Any:
    """The ONNX model at `path` as a `torch.export.ExportedProgram` for inputs `input_specs`.

    `dynamic` names axes that stay dynamic (`{"images": {0: "batch"}}`); the rest are fixed at the
    specs' shapes (what edge artifacts need). Raises ExportError naming the stage and node that failed.
    """
    return convert(path, input_specs, dynamic).program


def max_abs_diff(path: Path, program: Any, input_specs: Sequence[TensorSpec], seed: int = 0) -> list[float]:
    """Per output, the largest |onnxruntime(path) − program| on one random input (a smoke check)."""
    import onnxruntime as ort
    import torch

    from edge_kit.models.base import flatten_outputs
    from edge_kit.signature import random_inputs

    arrays = random_inputs(input_specs, 1, seed=seed)[0]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    expected = session.run(None, dict(zip(names, arrays)))
    with torch.no_grad():
        got = flatten_outputs(program.module()(*[torch.from_numpy(a) for a in arrays]))
    return [float(np.max(np.abs(np.asarray(g, np.float64) - e))) for g, e in zip(got, expected)]


def to_torch_source(source: Any, options: Any) -> Any:
    """An ONNX source as a torch source (its ExportedProgram), with the same signature: the
    routes of torch (litert-torch, ExecuTorch) then take it; validation still runs the original."""
    from edge_kit.models.sniff import Kind
    from edge_kit.models.torch_models import TorchSource

    path = source.path
    if path is None:  # a live ModelProto: the bridge reads files
        path = options.scratch() / "source.onnx"
        path.write_bytes(source.model_bytes())
    dynamic = {s.name: s.dynamic_axes() for s in source.inputs if s.dims}
    program = onnx_to_exported_program(Path(path), list(source.inputs), dynamic or None)
    bridged = TorchSource(source.path, Kind.EXPORTED_PROGRAM, program)
    bridged.inputs, bridged.ranges = list(source.inputs), dict(source.ranges)
    return bridged


def register(registry: Any) -> None:
    from edge_kit.registry import Bridge

    registry.add_bridge(Bridge("onnx2torch", "onnx", "torch", to_torch_source, formats=("tflite", "executorch")))
