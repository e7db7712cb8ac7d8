"""TFLite / LiteRT: the format, its runtime (ai-edge-litert, the successor of tflite-runtime)
and its routes — PyTorch through litert-torch, Keras/SavedModel through tf.lite.TFLiteConverter,
a TFLite file as it is (fp32 only: a TFLite file is not re-quantized).

fp16 and int8 come from `edge_kit.quant.tflite`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edge_kit.exporters.base import PRECISIONS, PT2E_CALIBRATION, ExportOptions, Format, Route
from edge_kit.signature import TensorSpec, guess_layout

if TYPE_CHECKING:
    from edge_kit.estimate.opcost import ModelCost
    from edge_kit.quant.share import Int8Share
    from edge_kit.registry import Registry


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


def _signature_output_names(interpreter: Any, details: Sequence[dict[str, Any]]) -> list[str] | None:
    """Each output's name in the model's one signature (None without a single signature naming them
    all): a SavedModel's keys, which the converter may emit in another order."""
    signatures = interpreter._get_full_signature_list() or {}
    if len(signatures) != 1:
        return None
    by_index = {index: name for name, index in next(iter(signatures.values())).get("outputs", {}).items()}
    names = [by_index.get(d["index"]) for d in details]
    return None if None in names else [str(n) for n in names]


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
        self.output_names = _signature_output_names(self.interpreter, self._out)

    def _resize(self, arrays: Sequence[np.ndarray]) -> None:
        """Give inputs of another shape their size (a resizable signature), then reallocate."""
        shapes = [tuple(np.shape(a)) for a in arrays]
        if shapes == [tuple(d["shape"]) for d in self._in]:
            return
        for detail, shape in zip(self._in, shapes):
            self.interpreter.resize_tensor_input(detail["index"], list(shape))
        self.interpreter.allocate_tensors()
        self._in = self.interpreter.get_input_details()
        self._out = self.interpreter.get_output_details()

    def run(self, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
        self._resize(arrays)
        for spec, detail, array in zip(self.inputs, self._in, arrays):
            if spec.scale is not None and spec.zero_point is not None and not np.issubdtype(array.dtype, np.integer):
                info = np.iinfo(spec.dtype)
                array = np.clip(np.round(array / spec.scale + spec.zero_point), info.min, info.max)
            self.interpreter.set_tensor(detail["index"], np.asarray(array, dtype=spec.dtype, order="C"))
        self.interpreter.invoke()
        outs = []
        for spec, detail in zip(self.outputs, self._out):
            value = self.interpreter.get_tensor(detail["index"])
            if spec.scale is not None:
                value = (value.astype(np.float32) - spec.zero_point) * spec.scale
            outs.append(value)
        return outs


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


def _litert_torch(source: Any, dest: Path, options: ExportOptions) -> dict[str, Any]:
    from edge_kit.quant import tflite as quant

    dest.write_bytes(strip_tensor_names(quant.torch(source, options)))
    return {"converter": "litert-torch"}


def _torch_layers(source: Any, options: ExportOptions) -> list[str]:
    from edge_kit.quant import tflite as quant

    return quant.torch_layers(source, options)


def _tflite_converter(source: Any, dest: Path, options: ExportOptions) -> dict[str, Any]:
    from edge_kit.quant import tflite as quant

    dest.write_bytes(strip_tensor_names(quant.keras(source, options)))
    return {"converter": "tf.lite.TFLiteConverter"}


def _fixed_shape(source: Any, dest: Path, options: ExportOptions) -> dict[str, Any]:
    """The model traced at this export's input sizes, converted from that concrete function: a
    Keras model whose signature keeps [-1, -1, -1, 3] can fail to reshape in XNNPACK at load."""
    from edge_kit.models.tf_models import import_tf
    from edge_kit.quant import tflite as quant

    tf = import_tf()

    def converter() -> Any:
        from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

        frozen = convert_variables_to_constants_v2(source.concrete_function())  # variables as constants
        return tf.lite.TFLiteConverter.from_concrete_functions([frozen])

    dest.write_bytes(strip_tensor_names(quant.convert(converter, options)))
    return {"converter": "tf.lite.TFLiteConverter (concrete function, fixed shapes)"}


def _copy(source: Any, dest: Path, options: ExportOptions) -> dict[str, Any]:
    """A TFLite source as it is (validated like any artifact); its bytes are not rewritten."""
    dest.write_bytes(source.model_bytes())
    return {"converter": "copy"}


def _keras_layers(source: Any, options: ExportOptions) -> list[str]:
    from edge_kit.quant import tflite as quant

    return quant.keras_layers(source, options)


class TfliteFormat(Format):
    name = "tflite"
    suffix = ".tflite"
    other_suffixes = (".lite",)
    aliases = ("litert",)
    runtime = "litert"
    description = "TFLite / LiteRT flatbuffer, run by ai-edge-litert (XNNPACK)"
    harness_runtime = "litert"
    embeds_metadata = True
    int8_weight_scale_floor = 2**-12
    board_distributions = ("ai-edge-litert",)
    runtime_distributions = ("ai-edge-litert",)
    quantize_more_hint = (
        "TFLite's dynamic range leaves weights under 1024 values in float: try static --quantize int8 "
        "with --calibration, or --format onnx whose quantizer covers more op types"
    )
    package_runtime = "LiteRT"
    package_platforms = ("android", "ios", "linux")
    # the iOS Swift/ObjC LiteRT SDK stays in the TensorFlowLite pods (its own version line)
    package_versions = {"litert": ("ai-edge-litert", "2.3.0"), "tflite_ios": ("", "2.17.0")}
    package_dependencies = {
        "android": ('implementation("com.google.ai.edge.litert:litert:{litert}")',),
        "spm": (),
        "cocoapods": ("pod 'TensorFlowLiteSwift', '~> {tflite_ios}'",),
        "python": ("ai-edge-litert>={litert}",),
    }

    def detect(self, path: Path, head: bytes) -> bool:
        return head[4:8] == b"TFL3"

    def quantized_share(self, path: Path) -> Int8Share:
        from edge_kit.quant import share_tflite

        return share_tflite.measure(path)

    def load(self, path: Path, source_inputs: Sequence[TensorSpec], threads: int = 0) -> TfliteRunner:
        return TfliteRunner(path, threads)

    def op_cost(self, path: Path) -> ModelCost | None:
        from edge_kit.estimate.opcost import ModelCost, tflite_ops

        return ModelCost(tuple(tflite_ops(path)), "tflite-static", path.stat().st_size)

    def embed_metadata(self, model: bytes, document: bytes) -> bytes:
        from edge_kit.packager import tflite_metadata

        embedded = tflite_metadata.embed(model, document)
        tflite_metadata.check_same_outputs(model, embedded)
        return embedded

    def check_artifact(self, path: Path) -> None:
        from ai_edge_litert.interpreter import Interpreter

        from edge_kit.errors import ModelLoadError

        try:
            Interpreter(model_path=str(path))  # verifies the flatbuffer; allocates no tensors
        except (ValueError, RuntimeError) as exc:
            raise ModelLoadError(
                f"{path.name} is a corrupt TFLite model: {str(exc).splitlines()[0][:160]}",
                hint="export it again; the file may be truncated or damaged",
            ) from None


CONVERTER_IO_TYPES = ("float32", "int8", "uint8")  # the TFLiteConverter's full-integer I/O


def register(registry: Registry) -> None:
    registry.add_format(TfliteFormat())
    registry.add_route(
        Route(
            "litert-torch",
            "torch",
            "tflite",
            _litert_torch,
            PRECISIONS,
            layers=_torch_layers,
            description="litert-torch (PT2E for int8, ai-edge-quantizer for fp16)",
            calibration_methods=PT2E_CALIBRATION,
            versions=("torch", "litert-torch", "ai-edge-quantizer"),
        )
    )
    registry.add_route(Route("copy", "tflite", "tflite", _copy, ("fp32",), description="the TFLite model itself"))
    for name, convert, description in (
        ("tflite-converter", _tflite_converter, "tf.lite.TFLiteConverter (float16, dynamic range, full integer)"),
        (
            "tflite-converter-fixed-shape",
            _fixed_shape,
            "tf.lite.TFLiteConverter on the model traced at the export's sizes",
        ),
    ):
        registry.add_route(
            Route(
                name,
                "tensorflow",
                "tflite",
                convert,
                PRECISIONS,
                layers=_keras_layers if name == "tflite-converter" else None,
                description=description,
                calibration_methods=("minmax",),
                io_types=CONVERTER_IO_TYPES,
                versions=("tensorflow-cpu",),
            )
        )
