"""ONNX sources: run with onnxruntime as the reference."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edge_kit.errors import ModelLoadError
from edge_kit.models.base import LoadOptions, SourceModel
from edge_kit.models.sniff import Kind
from edge_kit.signature import TensorSpec, guess_layout

if TYPE_CHECKING:
    from edge_kit.registry import Registry

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


def ort_session(path: Path | bytes, threads: int = 0) -> Any:
    """An onnxruntime CPU session (of a file or serialized bytes), one line for a model it cannot load."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads = threads
    try:
        model = path if isinstance(path, bytes) else model_ref(path)
        return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
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
    """An ONNX model file (or, from the Python API, an `onnx.ModelProto`'s bytes), run by onnxruntime."""

    framework = "onnx"

    def __init__(self, path: Path | None, data: bytes | None = None) -> None:
        super().__init__(path, Kind.ONNX)
        self.data = data
        self.session = ort_session(data if data is not None else Path(str(path)))

    def model_bytes(self) -> bytes:
        return self.data if self.data is not None else Path(str(self.path)).read_bytes()

    def weights_digest(self) -> str | None:
        import hashlib

        return hashlib.sha256(self.model_bytes()).hexdigest()

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


def _is_onnx_proto(obj: Any) -> bool:
    import sys

    onnx = sys.modules.get("onnx")
    return onnx is not None and isinstance(obj, onnx.ModelProto)


def _wrap_proto(obj: Any, options: LoadOptions) -> OnnxSource:
    """A live `onnx.ModelProto` (checked like a file)."""
    import onnx

    try:
        onnx.checker.check_model(obj)
    except Exception as exc:  # noqa: BLE001 - onnx.checker raises ValidationError and others
        raise ModelLoadError(f"the ONNX model is not valid: {str(exc).splitlines()[0][:200]}") from None
    return OnnxSource(None, obj.SerializeToString())


def register(registry: Registry) -> None:
    from edge_kit.registry import SourceType

    registry.add_source(
        SourceType(
            Kind.ONNX.value,
            "onnx",
            "ONNX",
            load=lambda path, options: load_onnx(path),
            accepts=_is_onnx_proto,
            wrap=_wrap_proto,
        )
    )
