"""ONNX: torch.onnx (dynamo by default, legacy on request), Keras/SavedModel via tf2onnx.

Runs in onnxruntime (CPU execution provider). fp16 and int8 come from `edge_kit.quant.onnx`,
applied to the float model this module exports first.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edge_kit.errors import ExportError
from edge_kit.exporters.base import Exporter, ExportOptions, package_version
from edge_kit.models.base import SourceModel
from edge_kit.signature import TensorSpec

DEFAULT_OPSET = 18


class OnnxRunner:
    def __init__(self, path: Path, threads: int = 0) -> None:
        from edge_kit.models.onnx_models import ort_session, ort_specs

        self.session = ort_session(path, threads)
        self.inputs = ort_specs(self.session.get_inputs())
        self.outputs = ort_specs(self.session.get_outputs())

    def run(self, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
        feed = {spec.name: np.ascontiguousarray(a, dtype=spec.dtype) for spec, a in zip(self.inputs, arrays)}
        return [np.asarray(o) for o in self.session.run(None, feed)]


def _export_torch(source: Any, dest: Path, options: ExportOptions, opset: int) -> None:
    import torch

    names = [s.name for s in source.inputs]
    if options.onnx_exporter == "legacy":
        model = source.obj if isinstance(source.obj, torch.jit.ScriptModule) else source.module()
        torch.onnx.export(
            model, source.example_inputs(), str(dest), dynamo=False, opset_version=opset, input_names=names
        )
        return
    program = torch.onnx.export(
        source.exported_program,
        source.example_inputs(),
        dynamo=True,
        opset_version=opset,
        input_names=names,
        verbose=False,
    )
    program.save(str(dest), external_data=False)


def _export_tensorflow(source: Any, dest: Path, opset: int) -> None:
    from edge_kit.models.tf_models import KerasSource, import_tf

    tf = import_tf()
    specs = [tf.TensorSpec([int(d) for d in s.shape], s.dtype, name=s.name) for s in source.inputs]
    if isinstance(source, KerasSource):
        source.model.export(str(dest), format="onnx", input_signature=specs, opset_version=opset, verbose=False)
        return
    import tf2onnx
    from keras.src.export.tf2onnx_lib import patch_tf2onnx  # numpy-2 fixes Keras applies too

    patch_tf2onnx()
    names = source.input_names()
    fn = tf.function(lambda *args: source.signature(**dict(zip(names, args))), input_signature=specs)
    tf2onnx.convert.from_function(fn, input_signature=specs, opset=opset, output_path=str(dest))


def _facts(dest: Path, source: Any, options: ExportOptions) -> dict[str, Any]:
    import onnx

    model = onnx.load(str(dest), load_external_data=False)
    opsets = {o.domain or "ai.onnx": o.version for o in model.opset_import}
    if not model.graph.node:
        raise ExportError("the ONNX exporter produced an empty graph")
    return {
        "opset": opsets.get("ai.onnx"),
        "onnx_exporter": options.onnx_exporter
        if source.framework == "torch"
        else ("tf2onnx" if source.framework == "tensorflow" else "copy"),
    }


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


class OnnxExporter(Exporter):
    name = "onnx"
    suffix = ".onnx"
    runtime = "onnxruntime"
    description = "ONNX, run by ONNX Runtime"
    support = {fw: ("fp32", "fp16", "int8-dynamic", "int8") for fw in ("torch", "tensorflow", "onnx")}

    def export(self, source: SourceModel, dest: Path, options: ExportOptions) -> dict[str, Any]:
        if options.precision == "fp32":
            return self._export_fp32(source, dest, options)
        from edge_kit.quant import onnx as quant

        facts = quant.quantize(self._float_model(source, options), dest, options)
        return {**_facts(dest, source, options), **facts}

    def quantizable_layers(self, source: SourceModel, options: ExportOptions) -> list[str]:
        from edge_kit.quant import onnx as quant

        return quant.layers(self._float_model(source, options), options)

    def _float_model(self, source: SourceModel, options: ExportOptions) -> Path:
        """The float model quantization starts from (exported once per export, then reused)."""
        from edge_kit.quant import scratch

        path = scratch(options) / "fp32.onnx"
        if not path.exists():
            self._export_fp32(source, path, options)
        return path

    def _export_fp32(self, source: SourceModel, dest: Path, options: ExportOptions) -> dict[str, Any]:
        opset = options.opset or DEFAULT_OPSET
        if source.framework == "torch":
            _export_torch(source, dest, options, opset)
            strip_debug_info(dest)
        elif source.framework == "tensorflow":
            _export_tensorflow(source, dest, opset)
        else:
            shutil.copyfile(source.path, dest)
        return _facts(dest, source, options)

    def load(self, path: Path, source_inputs: Sequence[TensorSpec], threads: int = 0) -> OnnxRunner:
        return OnnxRunner(path, threads)

    def versions(self, source: SourceModel | None = None) -> dict[str, str | None]:
        out = {"onnx": package_version("onnx"), "onnxruntime": package_version("onnxruntime")}
        if source is None or source.framework == "torch":
            out.update(torch=package_version("torch"), onnxscript=package_version("onnxscript"))
        if source is None or source.framework == "tensorflow":
            out.update(tensorflow=package_version("tensorflow-cpu"), tf2onnx=package_version("tf2onnx"))
        return out
