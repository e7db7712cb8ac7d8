"""A toy edgekit plugin living outside edge_kit/: a source kind, a format with its runtime, and routes.

Source: a `.toylin` file (magic `TOYLIN\\n`, then an .npz with `weight` [out, in] and `bias` [out]):
a linear model y = x @ W.T + b. Format `toyrt`: a `.toyrt` file (magic `TOYRT\\n` + the same .npz),
run by numpy. Routes: toy → toyrt (a copy with a new header) and toy → onnx (a Gemm graph, so the
built-in ONNX format, its validation in onnxruntime and its int8 quantization apply).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edge_kit.exporters.base import ExportOptions, Format, Route
from edge_kit.models.base import LoadOptions, SourceModel
from edge_kit.registry import Registry, SourceType
from edge_kit.signature import TensorSpec

SOURCE_MAGIC, FORMAT_MAGIC = b"TOYLIN\n", b"TOYRT\n"


def _weights(path: Path, magic: bytes) -> tuple[np.ndarray, np.ndarray]:
    data = np.load(io.BytesIO(Path(path).read_bytes()[len(magic) :]))
    return data["weight"].astype(np.float32), data["bias"].astype(np.float32)


class ToySource(SourceModel):
    framework = "toy"

    def __init__(self, path: Path) -> None:
        super().__init__(path, "toylin")
        self.weight, self.bias = _weights(path, SOURCE_MAGIC)

    def declared_inputs(self) -> list[TensorSpec]:
        return [TensorSpec("x", (1, self.weight.shape[1]))]

    def run(self, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
        return [arrays[0] @ self.weight.T + self.bias]


class ToyRunner:
    def __init__(self, path: Path) -> None:
        self.weight, self.bias = _weights(path, FORMAT_MAGIC)
        self.inputs = [TensorSpec("x", (1, self.weight.shape[1]))]
        self.outputs = [TensorSpec("y", (1, self.weight.shape[0]))]

    def run(self, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
        return [arrays[0] @ self.weight.T + self.bias]


class ToyFormat(Format):
    name = "toyrt"
    suffix = ".toyrt"
    runtime = "numpy"
    description = "a toy format run by numpy"

    def detect(self, path: Path, head: bytes) -> bool:
        return head.startswith(FORMAT_MAGIC)

    def load(self, path: Path, source_inputs: Sequence[TensorSpec], threads: int = 0) -> ToyRunner:
        return ToyRunner(path)


def _to_toyrt(source: ToySource, dest: Path, options: ExportOptions) -> dict[str, Any]:
    buffer = io.BytesIO()
    np.savez(buffer, weight=source.weight, bias=source.bias)
    dest.write_bytes(FORMAT_MAGIC + buffer.getvalue())
    return {"converter": "toy"}


def _to_onnx(source: ToySource, dest: Path, options: ExportOptions) -> dict[str, Any]:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    out, inp = source.weight.shape
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["x", "W", "b"], ["y"], transB=1, name="gemm")],
        "toy",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, inp])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, out])],
        [numpy_helper.from_array(source.weight, "W"), numpy_helper.from_array(source.bias, "b")],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9), str(dest))
    return {"converter": "toy-gemm"}


def register_source(registry: Registry) -> None:
    def detect(path: Path) -> bool:
        with open(path, "rb") as handle:
            return handle.read(len(SOURCE_MAGIC)) == SOURCE_MAGIC

    registry.add_source(SourceType("toylin", "toy", "toy linear model", load=lambda p, o: ToySource(p), detect=detect))


def register_format(registry: Registry) -> None:
    registry.add_format(ToyFormat())
    registry.add_route(Route("toy-copy", "toy", "toyrt", _to_toyrt, description="header swap"))
    registry.add_route(Route("toy-gemm", "toy", "onnx", _to_onnx, description="one Gemm node"))


def write_source(path: Path, inputs: int = 6, outputs: int = 3, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    buffer = io.BytesIO()
    np.savez(buffer, weight=rng.normal(size=(outputs, inputs)), bias=rng.normal(size=outputs))
    path.write_bytes(SOURCE_MAGIC + buffer.getvalue())
    return path


_ = LoadOptions  # the loader's options type, for plugin authors reading this file
