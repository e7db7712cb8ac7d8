"""ONNX sources: run with onnxruntime as the reference."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from functools import cached_property
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


# onnxruntime's int8 matrix kernels on x86 CPUs without VNNI (AVX2, AVX-512 before VNNI) multiply uint8
# activations by int8 weights with VPMADDUBSW, whose 16-bit pairwise sums saturate: int8 models lose accuracy
# there that they do not lose on ARM (sdot/udot/smlal) or VNNI CPUs. MobileNetV2 int8 (equalized recipe): 77.3%
# top-1 agreement on an AVX2 EPYC by default, 86.4% with this option, 86.4% on emulated Cortex-A76 ORT. The
# option makes ORT use its exact U8U8 kernels on those CPUs only; elsewhere it changes nothing.
X64_QUANT_PRECISION = ("session.x64quantprecision", "1")


def _options(threads: int, exact: bool) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    if exact:
        options.add_session_config_entry(*X64_QUANT_PRECISION)
    if threads:
        options.intra_op_num_threads = threads
    return options


def ort_session(path: Path | bytes, threads: int = 0) -> Any:
    """An onnxruntime CPU session (of a file or serialized bytes), one line for a model it cannot load.

    int8 kernels are exact on every CPU (`X64_QUANT_PRECISION`), so measured accuracy is the model's;
    a model whose initialization fails with that transform (seen on a PP-OCR int8 graph) loads
    without it."""
    import onnxruntime as ort

    model = path if isinstance(path, bytes) else model_ref(path)
    try:
        try:
            return ort.InferenceSession(model, _options(threads, exact=True), providers=["CPUExecutionProvider"])
        except Exception:  # noqa: BLE001 - the exact-kernel transform can fail at initialization
            return ort.InferenceSession(model, _options(threads, exact=False), providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - ORT raises its own exception types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(
            f"onnxruntime cannot load {'the model' if isinstance(path, bytes) else Path(path).name}: {first[:200]}",
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
    """Specs of an onnxruntime session's inputs or outputs; named dynamic dims keep their names."""
    specs = []
    for arg in args:
        # a declared 0 stays 0 (refused later, one line); -1 (PaddlePaddle's batch) and names are dynamic
        shape = tuple(d if isinstance(d, int) and d >= 0 else None for d in arg.shape)
        dims = tuple(d if isinstance(d, str) and d else None for d in arg.shape)
        specs.append(
            TensorSpec(
                name=arg.name,
                shape=shape,
                dtype=ORT_DTYPES.get(arg.type, arg.type),
                layout=guess_layout(shape, "onnx"),
                dims=dims if any(dims) else (),
            )
        )
    return specs


def token_vocabularies(model: Any) -> dict[str, int]:
    """Graph inputs used as indices into an embedding table (Gather on an initializer): their vocabulary."""
    tables = {i.name: (list(i.dims) or [0])[0] for i in model.graph.initializer}
    inputs = {i.name for i in model.graph.input}
    return {
        node.input[1]: int(tables[node.input[0]])
        for node in model.graph.node
        if node.op_type == "Gather" and len(node.input) > 1 and node.input[0] in tables and node.input[1] in inputs
    }


def image_size(model: Any) -> tuple[int, int] | None:
    """The image size an exporter recorded in the model's metadata (Ultralytics' `imgsz`)."""
    import json

    meta = {p.key: p.value for p in model.metadata_props}
    try:
        size = json.loads(meta.get("imgsz", "null"))
    except ValueError:
        return None
    return (int(size[0]), int(size[1])) if isinstance(size, list) and len(size) == 2 else None


class OnnxSource(SourceModel):
    """An ONNX model file (or, from the Python API, an `onnx.ModelProto`'s bytes), run by onnxruntime."""

    framework = "onnx"

    def __init__(self, path: Path | None, data: bytes | None = None) -> None:
        super().__init__(path, Kind.ONNX)
        self.data = data
        self.session = ort_session(data if data is not None else Path(str(path)))
        self.bridge_facts: dict[str, str] = {}  # made by a bridge: the ONNX route used (the manifest's)

    def model_bytes(self) -> bytes:
        return self.data if self.data is not None else Path(str(self.path)).read_bytes()

    def weights_digest(self) -> str | None:
        import hashlib

        return hashlib.sha256(self.model_bytes()).hexdigest()

    @cached_property
    def graph(self) -> Any:
        """The ONNX model, without its external weights (for what the session does not say)."""
        import onnx

        return (
            onnx.load_model_from_string(self.model_bytes())
            if self.data is not None
            else onnx.load(str(self.path), load_external_data=False)
        )

    def declared_inputs(self) -> list[TensorSpec]:
        vocab = token_vocabularies(self.graph)
        return [
            replace(s, kind="tokens", high=float(vocab[s.name])) if s.name in vocab else s
            for s in ort_specs(self.session.get_inputs())
        ]

    def suggested_sizes(self) -> dict[str, int]:
        size = image_size(self.graph)
        out: dict[str, int] = {}
        for spec in self.declared_inputs():
            if size and len(spec.shape) == 4 and spec.dims:
                axes = (1, 2) if spec.layout == "NHWC" else (2, 3)
                out.update({spec.dims[a]: v for a, v in zip(axes, size) if spec.dims[a]})  # type: ignore[misc]
        return out

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
