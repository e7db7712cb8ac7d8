"""ONNX: the format, its runtime (onnxruntime, CPU execution provider) and its routes —
torch.onnx (dynamo, then the legacy TorchScript exporter), Keras' own ONNX export then
tf2onnx for TensorFlow sources, and a copy for ONNX sources.

Every route writes fp32; fp16 and int8 are derived from that fp32 model by
`edge_kit.quant.onnx`, whatever made it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edge_kit.errors import ExportError
from edge_kit.exporters.base import ExportOptions, Format, Route
from edge_kit.signature import TensorSpec

if TYPE_CHECKING:
    from edge_kit.estimate.opcost import ModelCost
    from edge_kit.quant.share import Int8Share
    from edge_kit.registry import Registry

DEFAULT_OPSET = 18


class OnnxRunner:
    def __init__(self, path: Path, threads: int = 0) -> None:
        from edge_kit.models.onnx_models import ort_session, ort_specs

        self.session = ort_session(path, threads)
        self.inputs = ort_specs(self.session.get_inputs())
        self.outputs = ort_specs(self.session.get_outputs())

    def run(self, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
        feed = {spec.name: np.asarray(a, dtype=spec.dtype, order="C") for spec, a in zip(self.inputs, arrays)}
        return [np.asarray(o) for o in self.session.run(None, feed)]


def _facts(dest: Path, exporter: str | None = None) -> dict[str, Any]:
    """The opset of a written model (and which exporter wrote it); an empty graph is a failure."""
    import onnx

    model = onnx.load(str(dest), load_external_data=False)
    if not model.graph.node:
        raise ExportError("the ONNX exporter produced an empty graph")
    opsets = {o.domain or "ai.onnx": o.version for o in model.opset_import}
    return {"opset": opsets.get("ai.onnx"), **({"onnx_exporter": exporter} if exporter else {})}


def strip_debug_info(path: Path) -> None:
    """Drop torch.onnx's per-node debug records (stack traces with local paths, FX names).

    They are several kB per model, reveal the exporting machine's paths and do not
    change what runs; shapes, names and opsets are kept.
    """
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    for node in model.graph.node:
        node.doc_string = ""
        kept = [p for p in node.metadata_props if not p.key.startswith(("pkg.torch.", "namespace"))]
        del node.metadata_props[:]
        node.metadata_props.extend(kept)
    onnx.save(model, str(path))


def _torch_dynamo(source: Any, dest: Path, options: ExportOptions) -> dict[str, Any]:
    import torch

    program = torch.onnx.export(
        source.exported_program,
        source.example_inputs(),
        dynamo=True,
        opset_version=options.opset or DEFAULT_OPSET,
        input_names=[s.name for s in source.inputs],
        verbose=False,
    )
    if program is None:
        raise ExportError("torch.onnx.export (dynamo) returned no program")
    program.save(str(dest), external_data=False)
    strip_debug_info(dest)
    return _facts(dest, "dynamo")


def _torch_legacy(source: Any, dest: Path, options: ExportOptions) -> dict[str, Any]:
    import torch

    model = source.obj if isinstance(source.obj, torch.jit.ScriptModule) else source.module()
    torch.onnx.export(
        model,
        source.example_inputs(),
        str(dest),
        dynamo=False,
        opset_version=options.opset or DEFAULT_OPSET,
        input_names=[s.name for s in source.inputs],
    )
    strip_debug_info(dest)
    return _facts(dest, "legacy")


def _keras_export(source: Any, dest: Path, options: ExportOptions) -> dict[str, Any]:
    source.model.export(
        str(dest),
        format="onnx",
        input_signature=source.tf_input_specs(),
        opset_version=options.opset or DEFAULT_OPSET,
        verbose=False,
    )
    return _facts(dest, "keras")


def _tf2onnx(source: Any, dest: Path, options: ExportOptions) -> dict[str, Any]:
    import tf2onnx
    from keras.src.export.tf2onnx_lib import patch_tf2onnx  # numpy-2 fixes Keras applies too

    from edge_kit.models.tf_models import import_tf

    import_tf()
    patch_tf2onnx()
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    # Frozen first: every variable (a Normalization layer's mean and variance too) becomes a
    # constant, never a graph input.
    frozen = convert_variables_to_constants_v2(source.concrete_function())
    tf2onnx.convert.from_graph_def(
        frozen.graph.as_graph_def(),
        input_names=[t.name for t in frozen.inputs],
        output_names=[t.name for t in frozen.outputs],
        opset=options.opset or DEFAULT_OPSET,
        output_path=str(dest),
    )
    return _facts(dest, "tf2onnx")


def _tf2onnx_keras(source: Any, dest: Path, options: ExportOptions) -> dict[str, Any]:
    """tf2onnx's own Keras entry: it freezes variables the traced function would take as inputs
    (e.g. a Normalization layer's mean and variance)."""
    import tf2onnx
    from keras.src.export.tf2onnx_lib import patch_tf2onnx  # numpy-2 fixes Keras applies too

    patch_tf2onnx()
    tf2onnx.convert.from_keras(
        source.model,
        input_signature=source.tf_input_specs(),
        opset=options.opset or DEFAULT_OPSET,
        output_path=str(dest),
    )
    return _facts(dest, "tf2onnx")


def _tf2onnx_tflite(source: Any, dest: Path, options: ExportOptions) -> dict[str, Any]:
    import tf2onnx
    from keras.src.export.tf2onnx_lib import patch_tf2onnx  # numpy-2 fixes Keras applies too

    from edge_kit.models.tf_models import import_tf

    import_tf()
    patch_tf2onnx()
    from edge_kit.bridges.tflite_custom_ops import replace_custom_ops
    from edge_kit.bridges.tflite_densify import densified

    dense = densified(Path(source.path), options.scratch())  # sparse weights tf2onnx would misread
    model, _ = tf2onnx.convert.from_tflite(str(dense or source.path), opset=options.opset or DEFAULT_OPSET)
    import onnx

    rewritten = replace_custom_ops(model, source.path)  # MediaPipe's transposed-convolution head
    onnx.save(model, str(dest))
    facts = {**_facts(dest, "tf2onnx-tflite"), "sparse_weights_densified": dense is not None}
    return {**facts, "custom_ops_rewritten": rewritten} if rewritten else facts


def _copy(source: Any, dest: Path, options: ExportOptions) -> dict[str, Any]:
    """The model itself, its inputs fixed to the sizes this export fixed (the ones it keeps
    dynamic stay dynamic) — or, when the runtime rejects the fixed graph (shape inference through
    control flow can), unchanged, which the manifest then says."""
    import onnx

    from edge_kit.errors import ModelLoadError
    from edge_kit.models.onnx_models import ort_session

    original = source.model_bytes()
    model = onnx.load_model_from_string(original)
    fixed = _fix_inputs(model, source)
    dest.write_bytes(model.SerializeToString() if fixed else original)
    if not fixed:
        return _facts(dest, "copy")
    try:
        ort_session(dest)
    except ModelLoadError as exc:
        dest.write_bytes(original)
        return {**_facts(dest, "copy"), "inputs_left_dynamic": exc.message[:200]}
    return {**_facts(dest, "copy"), "fixed_inputs": fixed}


def _fix_inputs(model: Any, source: Any) -> list[str]:
    """Make the graph inputs this export fixed static; the names of those changed. Each input's
    own dims are set (not by dim_param name across the graph: PaddlePaddle exports name every
    unknown dim '?', so height and width share one name)."""
    declared = {s.name: s for s in source.declared_inputs()}
    graph_inputs = {i.name: i for i in model.graph.input}
    fixed = []
    for spec in source.inputs:
        if spec.name in declared and not declared[spec.name].static and not spec.dims and spec.shape:
            dims = graph_inputs[spec.name].type.tensor_type.shape.dim
            if len(dims) != len(spec.shape):
                continue
            for dim, size in zip(dims, spec.shape, strict=True):
                dim.Clear()
                dim.dim_value = int(size)
            fixed.append(spec.name)
    return fixed


def _is_keras(source: Any) -> bool:
    return hasattr(source, "model") and hasattr(source.model, "export")


class OnnxFormat(Format):
    name = "onnx"
    suffix = ".onnx"
    other_suffixes = (".ort",)
    runtime = "onnxruntime"
    description = "ONNX, run by ONNX Runtime"
    harness_runtime = "onnxruntime"
    board_distributions = ("onnxruntime",)
    runtime_distributions = ("onnx", "onnxruntime")
    artifact_precisions = ("fp16", "int8-dynamic", "int8")
    artifact_calibration_methods = ("minmax", "percentile", "entropy")
    artifact_recipe_framework = "onnx"
    quantize_more_hint = (
        "try --quantize int8-dynamic (onnx_int8_dynamic_per_channel) or a --recipe whose op types cover it"
    )
    package_runtime = "ONNX Runtime"
    package_platforms = ("android", "ios", "linux")
    package_versions = {"onnxruntime": ("onnxruntime", "1.31.1")}
    package_dependencies = {
        "android": ('implementation("com.microsoft.onnxruntime:onnxruntime-android:{onnxruntime}")',),
        "spm": (
            '.package(url: "https://github.com/microsoft/onnxruntime-swift-package-manager", from: "{onnxruntime}")',
            '.product(name: "onnxruntime", package: "onnxruntime-swift-package-manager")',
        ),
        "cocoapods": ("pod 'onnxruntime-objc', '~> {onnxruntime}'",),
        "python": ("onnxruntime>={onnxruntime}",),
    }

    def detect(self, path: Path, head: bytes) -> bool:
        from edge_kit.models.sniff import is_onnx

        # No magic number: anything else's signature first, then parse the protobuf.
        return not head.startswith((b"PK", b"\x89HDF")) and head[4:8] != b"TFL3" and is_onnx(path)

    def quantized_share(self, path: Path) -> Int8Share:
        from edge_kit.quant import share_onnx

        return share_onnx.measure(path)

    def load(self, path: Path, source_inputs: Sequence[TensorSpec], threads: int = 0) -> OnnxRunner:
        return OnnxRunner(path, threads)

    def op_cost(self, path: Path) -> ModelCost | None:
        from edge_kit.estimate.opcost import ModelCost, onnx_ops

        return ModelCost(tuple(onnx_ops(path)), "onnx-static", path.stat().st_size)

    def quantize_artifact(self, fp32: Path, dest: Path, options: ExportOptions) -> dict[str, Any]:
        from edge_kit.quant import onnx as quant

        return {**quant.quantize(fp32, dest, options), **_facts(dest)}

    def artifact_layers(self, fp32: Path, options: ExportOptions) -> list[str]:
        from edge_kit.quant import onnx as quant

        return quant.layers(fp32, options)


def register(registry: Registry) -> None:
    registry.add_format(OnnxFormat())
    tf_versions = ("tensorflow-cpu", "tf2onnx")
    # (name, framework, convert, accepts, description, versions), in the order they are tried
    table: list[tuple[str, str, Any, Any, str, tuple[str, ...]]] = [
        ("torch-onnx-dynamo", "torch", _torch_dynamo, None, "torch.onnx (dynamo)", ("torch", "onnxscript")),
        ("torch-onnx-legacy", "torch", _torch_legacy, None, "torch.onnx (TorchScript exporter)", ("torch",)),
        (
            "keras-export-onnx",
            "tensorflow",
            _keras_export,
            _is_keras,
            "Keras model.export(format='onnx')",
            ("tensorflow-cpu", "keras"),
        ),
        ("tf2onnx-keras", "tensorflow", _tf2onnx_keras, _is_keras, "tf2onnx.convert.from_keras", tf_versions),
        ("tf2onnx", "tensorflow", _tf2onnx, None, "tf2onnx on the traced function", tf_versions),
        ("copy", "onnx", _copy, None, "the ONNX model itself", ()),
        ("tf2onnx-tflite", "tflite", _tf2onnx_tflite, None, "tf2onnx's TFLite front end", ("tf2onnx",)),
    ]
    for name, framework, convert, accepts, description, versions in table:
        registry.add_route(
            Route(name, framework, "onnx", convert, accepts=accepts, description=description, versions=versions)
        )
