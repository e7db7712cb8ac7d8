"""ONNX sources: run with onnxruntime as the reference."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edge_kit.errors import ModelLoadError
from edge_kit.models.base import SourceModel
from edge_kit.models.sniff import Kind
from edge_kit.signature import TensorSpec, guess_layout

ORT_DTYPES = {
    "tensor(float)": "float32",
    "tensor(float16)": "float16",
    "tensor(int8)": "int8",
    "tensor(uint8)": "uint8",
    "tensor(int32)": "int32",
    "tensor(int64)": "int64",
    "tensor(bool)": "bool",
    "tensor(double)": "float64",
}


def ort_session(path: Path, threads: int = 0) -> Any:
    """An onnxruntime CPU session, with a one-line error for a model it cannot load."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads = threads
    try:
        return ort.InferenceSession(model_ref(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - ORT raises its own exception types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(
            f"onnxruntime cannot load {Path(path).name}: {first[:200]}",
            hint="the model may use an operator or opset onnxruntime lacks",
        ) from None


def model_ref(path: Path) -> str | bytes:
    """What onnx and onnxruntime open: the path, or the model's bytes when the path is not
    UTF-8 (their C++ side takes only UTF-8 strings; a file name need not be one)."""
    text = str(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return Path(path).read_bytes()
    return text


def ort_specs(args: Sequence[Any]) -> list[TensorSpec]:
    specs = []
    for arg in args:
        shape = tuple(d if isinstance(d, int) else None for d in arg.shape)
        specs.append(
            TensorSpec(
                name=arg.name, shape=shape, dtype=ORT_DTYPES.get(arg.type, arg.type), layout=guess_layout(shape, "onnx")
            )
        )
    return specs


class OnnxSource(SourceModel):
    framework = "onnx"

    def __init__(self, path: Path) -> None:
        super().__init__(path, Kind.ONNX)
        self.session = ort_session(path)

    def declared_inputs(self) -> list[TensorSpec]:
        return ort_specs(self.session.get_inputs())

    def run(self, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
        names = [i.name for i in self.session.get_inputs()]
        return [np.asarray(o) for o in self.session.run(None, dict(zip(names, arrays)))]


def load_onnx(path: Path) -> OnnxSource:
    import onnx

    try:
        onnx.checker.check_model(model_ref(path))
    except Exception as exc:  # noqa: BLE001 - onnx.checker raises ValidationError and others
        raise ModelLoadError(
            f"{path.name} is not a valid ONNX model: {str(exc).splitlines()[0][:200]}",
            hint="re-export it, or check missing initializers / unknown operators",
        ) from None
    return OnnxSource(path)
