"""The underlying converters run directly, the plain way a user would (no edgekit code).

Each function takes the built source and writes the artifact at `out`; it returns a short name
of what it ran. `NoConverter` says a cell has no raw converter here (and why).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks.zoo.runtimes import calibration
from benchmarks.zoo.spec import Entry


class NoConverter(Exception):
    """This (source, format, precision) has no plain converter to run here."""


def _torch_args(entry: Entry) -> tuple:
    import numpy as np
    import torch

    return tuple(torch.from_numpy(np.ascontiguousarray(a)) for a in calibration(entry, 1, seed=0)[0])


def _program(entry: Entry, source: Path) -> Any:
    import torch

    if entry.source != "pt2":
        raise NoConverter("torch.export cannot take a TorchScript module (no plain route to this format)")
    return torch.export.load(str(source))


def torch_onnx(entry: Entry, source: Path, out: Path) -> str:
    """torch.onnx.export(dynamo=True) of the ExportedProgram (legacy exporter for TorchScript)."""
    import torch

    if entry.source == "torchscript":
        module = torch.jit.load(str(source)).eval()
        args = tuple(int(a) if a.ndim == 0 else a for a in _torch_args(entry))
        torch.onnx.export(module, args, str(out), dynamo=False)
        return "torch.onnx.export(dynamo=False) [TorchScript]"
    torch.onnx.export(_program(entry, source), (), str(out), dynamo=True, external_data=False)
    return "torch.onnx.export(dynamo=True)"


def _pt2e(entry: Entry, program: Any, quantizer: Any, fold: bool = True) -> Any:
    """prepare_pt2e -> random calibration -> convert_pt2e on a re-export of the program's module."""
    import numpy as np
    import torch
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    module = torch.export.export(program.module(), _torch_args(entry)).module()
    prepared = prepare_pt2e(module, quantizer)
    with torch.no_grad():
        for batch in calibration(entry):
            prepared(*[torch.from_numpy(np.ascontiguousarray(a)) for a in batch])
    return convert_pt2e(prepared, fold_quantize=fold)


def torch_tflite(entry: Entry, source: Path, out: Path, precision: str) -> str:
    """litert_torch.convert; int8: PT2E with litert-torch's PT2EQuantizer (per-channel, static)."""
    import litert_torch

    program = _program(entry, source)
    args = _torch_args(entry)
    if precision == "fp32":
        litert_torch.convert(program.module(), args).export(str(out))
        return "litert_torch.convert"
    from litert_torch.quantize import pt2e_quantizer as pq
    from litert_torch.quantize.quant_config import QuantConfig

    quantizer = pq.PT2EQuantizer().set_global(pq.get_symmetric_quantization_config(is_per_channel=True))
    module = _pt2e(entry, program, quantizer, fold=False)
    litert_torch.convert(module, args, quant_config=QuantConfig(pt2e_quantizer=quantizer)).export(str(out))
    return "litert-torch PT2EQuantizer + litert_torch.convert"


def torch_executorch(entry: Entry, source: Path, out: Path, precision: str) -> str:
    """torch.export -> to_edge_transform_and_lower(XnnpackPartitioner); int8: XNNPACKQuantizer PT2E."""
    import torch
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    program = _program(entry, source)
    name = "to_edge_transform_and_lower(XnnpackPartitioner)"
    if precision == "int8":
        from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
            XNNPACKQuantizer,
            get_symmetric_quantization_config,
        )

        quantizer = XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True))
        program = torch.export.export(_pt2e(entry, program, quantizer), _torch_args(entry))
        name = "XNNPACKQuantizer PT2E + " + name
    out.write_bytes(to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()]).to_executorch().buffer)
    return name


def keras_tflite(entry: Entry, source: Path, out: Path, precision: str) -> str:
    """TFLiteConverter.from_keras_model / from_saved_model; int8: DEFAULT optimizations + a random
    representative dataset (integer ops where possible, float I/O)."""
    import tensorflow as tf

    if entry.source == "keras":
        import keras

        converter = tf.lite.TFLiteConverter.from_keras_model(keras.saving.load_model(str(source)))
        name = "TFLiteConverter.from_keras_model"
    else:
        converter = tf.lite.TFLiteConverter.from_saved_model(str(source))
        name = "TFLiteConverter.from_saved_model"
    if precision == "int8":
        data = calibration(entry)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: iter([list(b) for b in data])
        name += " + int8 representative_dataset"
    out.write_bytes(converter.convert())
    return name


def keras_onnx(entry: Entry, source: Path, out: Path) -> str:
    """tf2onnx: convert.from_keras for Keras, `python -m tf2onnx.convert --saved-model` for SavedModels."""
    if entry.source == "savedmodel":
        cmd = [sys.executable, "-m", "tf2onnx.convert", "--saved-model", str(source), "--output", str(out)]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        if done.returncode:
            raise RuntimeError(_last_error(done.stderr))
        return "python -m tf2onnx.convert --saved-model"
    import keras
    import tensorflow as tf
    import tf2onnx

    model = keras.saving.load_model(str(source))
    signature = [tf.TensorSpec((None, *s.shape[1:]), s.dtype, name=s.name) for s in entry.inputs]
    tf2onnx.convert.from_keras(model, input_signature=signature, output_path=str(out))
    return "tf2onnx.convert.from_keras"


def tflite_onnx(entry: Entry, source: Path, out: Path) -> str:
    """tf2onnx.convert.from_tflite."""
    import tf2onnx

    tf2onnx.convert.from_tflite(str(source), output_path=str(out))
    return "tf2onnx.convert.from_tflite"


def tflite_int8(entry: Entry, source: Path, out: Path) -> str:
    """ai-edge-quantizer static int8 (weights and activations) on the float .tflite, random calibration."""
    from ai_edge_quantizer import quantizer, recipe

    qt = quantizer.Quantizer(str(source), recipe.static_wi8_ai8())
    signature, names = _signature(source)
    samples = [dict(zip(names, batch)) for batch in calibration(entry)]
    result = qt.calibrate({signature: samples})
    out.write_bytes(bytes(qt.quantize(result).quantized_model))
    return "ai_edge_quantizer static_wi8_ai8"


def _signature(source: Path) -> tuple[str, list[str]]:
    from ai_edge_litert.interpreter import Interpreter

    signatures = Interpreter(model_path=str(source)).get_signature_list()
    if not signatures:
        raise NoConverter("the .tflite has no signature; ai-edge-quantizer calibrates by signature")
    key = next(iter(signatures))
    return key, list(signatures[key]["inputs"])


def ort_int8(entry: Entry, fp32: Path, out: Path) -> str:
    """onnxruntime quantize_static: QDQ, per-channel, random calibration (no pre-processing)."""
    import onnxruntime as ort
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, quantize_static

    names = [i.name for i in ort.InferenceSession(str(fp32), providers=["CPUExecutionProvider"]).get_inputs()]
    data = [dict(zip(names, batch)) for batch in calibration(entry)]

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter(data)

        def get_next(self) -> dict | None:
            return next(self.items, None)

    quantize_static(str(fp32), str(out), Reader(), quant_format=QuantFormat.QDQ, per_channel=True)
    return "onnxruntime quantize_static(QDQ, per_channel)"


def _last_error(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if "Error" in line or "error" in line]
    return (errors or lines or ["failed without a message"])[-1][:300]
