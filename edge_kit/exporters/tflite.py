"""TFLite / LiteRT: Keras and SavedModel through tf.lite.TFLiteConverter, torch through litert-torch.

Runs in ai-edge-litert's Interpreter (the successor of tflite-runtime). fp16 and int8 come
from `edge_kit.quant.tflite`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edge_kit.exporters.base import Exporter, ExportOptions, package_version
from edge_kit.models.base import SourceModel
from edge_kit.signature import TensorSpec, guess_layout


def _spec(detail: dict[str, Any]) -> TensorSpec:
    shape = tuple(int(d) for d in detail["shape"])
    scale, zero = detail.get("quantization", (0.0, 0))
    quantized = detail["dtype"] in (np.int8, np.uint8, np.int16) and scale
    return TensorSpec(
        name=detail["name"],
        shape=shape,
        dtype=np.dtype(detail["dtype"]).name,
        layout=guess_layout(shape, "onnx"),
        scale=float(scale) if quantized else None,
        zero_point=int(zero) if quantized else None,
    )


class TfliteRunner:
    """ai-edge-litert Interpreter; int8 inputs/outputs are (de)quantized with their own params."""

    def __init__(self, path: Path, threads: int = 0) -> None:
        from ai_edge_litert.interpreter import Interpreter

        from edge_kit.errors import ModelLoadError

        try:
            self.interpreter = Interpreter(model_path=str(path), num_threads=threads or None)
            self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelLoadError(
                f"LiteRT cannot load {Path(path).name}: {str(exc).splitlines()[0][:200]}",
                hint="the file may be damaged or use an operator LiteRT lacks",
            ) from None
        self._in = self.interpreter.get_input_details()
        self._out = self.interpreter.get_output_details()
        self.inputs = [_spec(d) for d in self._in]
        self.outputs = [_spec(d) for d in self._out]

    def run(self, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
        for spec, detail, array in zip(self.inputs, self._in, arrays):
            if spec.scale is not None and not np.issubdtype(array.dtype, np.integer):
                info = np.iinfo(spec.dtype)
                array = np.clip(np.round(array / spec.scale + spec.zero_point), info.min, info.max)
            self.interpreter.set_tensor(detail["index"], np.ascontiguousarray(array, dtype=spec.dtype))
        self.interpreter.invoke()
        outs = []
        for spec, detail in zip(self.outputs, self._out):
            value = self.interpreter.get_tensor(detail["index"])
            if spec.scale is not None:
                value = (value.astype(np.float32) - spec.zero_point) * spec.scale
            outs.append(value)
        return outs


def import_litert_torch() -> Any:
    """Import litert-torch without its progress lines (LITERT_TORCH_SHOW_PROGRESS=y shows them)."""
    os.environ.setdefault("LITERT_TORCH_SHOW_PROGRESS", "n")
    import litert_torch

    return litert_torch


def _export_torch(source: Any, dest: Path) -> None:
    litert_torch = import_litert_torch()
    model = litert_torch.convert(source.module(), source.example_inputs())
    model.export(str(dest))


def _export_tensorflow(source: Any, dest: Path) -> None:
    from edge_kit.models.tf_models import KerasSource, import_tf

    tf = import_tf()
    if isinstance(source, KerasSource):
        converter = tf.lite.TFLiteConverter.from_keras_model(source.model)
    else:
        converter = tf.lite.TFLiteConverter.from_saved_model(str(source.path))
    dest.write_bytes(converter.convert())


def strip_tensor_names(model: bytes) -> bytes:
    """Shorten intermediate tensor names (converter debug strings such as fused torch module
    paths) to `t<index>`; model inputs/outputs and the signature keep theirs. Outputs are unchanged."""
    from ai_edge_litert.tools import flatbuffer_utils

    obj = flatbuffer_utils.read_model_from_bytearray(bytearray(model))
    for subgraph in obj.subgraphs:
        keep = set(subgraph.inputs or []) | set(subgraph.outputs or [])
        for index, tensor in enumerate(subgraph.tensors):
            if index not in keep:
                tensor.name = f"t{index}".encode()
    return bytes(flatbuffer_utils.convert_object_to_bytearray(obj))


class TfliteExporter(Exporter):
    name = "tflite"
    suffix = ".tflite"
    runtime = "litert"
    description = "TFLite / LiteRT flatbuffer, run by ai-edge-litert (XNNPACK)"
    support = {
        "torch": ("fp32", "fp16", "int8-dynamic", "int8"),
        "tensorflow": ("fp32", "fp16", "int8-dynamic", "int8"),
    }

    def export(self, source: SourceModel, dest: Path, options: ExportOptions) -> dict[str, Any]:
        converter = "litert-torch" if source.framework == "torch" else "tf.lite.TFLiteConverter"
        if options.precision != "fp32":
            from edge_kit.quant import tflite as quant

            dest.write_bytes(
                quant.torch(source, options) if source.framework == "torch" else quant.keras(source, options)
            )
        elif source.framework == "torch":
            _export_torch(source, dest)
        else:
            _export_tensorflow(source, dest)
        dest.write_bytes(strip_tensor_names(dest.read_bytes()))
        return {"converter": converter}

    def quantizable_layers(self, source: SourceModel, options: ExportOptions) -> list[str]:
        from edge_kit.quant import tflite as quant

        if source.framework == "torch":
            return quant.torch_layers(source, options)
        return quant.keras_layers(source, options)

    def load(self, path: Path, source_inputs: Sequence[TensorSpec], threads: int = 0) -> TfliteRunner:
        return TfliteRunner(path, threads)

    def versions(self, source: SourceModel | None = None) -> dict[str, str | None]:
        out = {"ai-edge-litert": package_version("ai-edge-litert")}
        if source is None or source.framework == "torch":
            out.update(
                torch=package_version("torch"),
                **{
                    "litert-torch": package_version("litert-torch"),
                    "ai-edge-quantizer": package_version("ai-edge-quantizer"),
                },
            )
        if source is None or source.framework == "tensorflow":
            out.update(tensorflow=package_version("tensorflow-cpu"))
        return out
