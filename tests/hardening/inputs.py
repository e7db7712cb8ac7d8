"""Bad inputs for the catalogue: damaged, forged and malicious model and data files.

Payload pickles create a marker file when unpickled; the tests check it never appears.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path

import numpy as np


class Payload:
    """Unpickling this creates `marker` (what an attacker's pickle would do with os.system)."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return open, (self.marker, "w")


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def truncated(source: Path, dest: Path) -> Path:
    data = source.read_bytes()
    return write(dest, data[: len(data) // 2])


def random_bytes(dest: Path, size: int = 4096, prefix: bytes = b"") -> Path:
    return write(dest, prefix + np.random.default_rng(7).bytes(size))


def zip_with_entry(source: Path, dest: Path, name: str, data: bytes) -> Path:
    """A copy of the zip archive `source` with one more entry."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(dest, "w") as out:
        for info in src.infolist():
            out.writestr(info, src.read(info))
        out.writestr(name, data)
    return dest


def zip_replacing(source: Path, dest: Path, suffix: str, data: bytes) -> Path:
    """A copy of the zip archive `source` whose entry ending with `suffix` holds `data`."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(dest, "w") as out:
        for info in src.infolist():
            out.writestr(info, data if info.filename.endswith(suffix) else src.read(info))
    return dest


def torch_pickle(dest: Path, marker: Path) -> Path:
    import torch

    torch.save({"weight": Payload(marker)}, dest)
    return dest


def legacy_pickle(dest: Path, marker: Path) -> Path:
    with open(dest, "wb") as handle:
        pickle.dump(Payload(marker), handle, protocol=2)
    return dest


def pt2_with_pickle(pt2: Path, dest: Path, marker: Path) -> Path:
    """An ExportedProgram archive whose sample inputs are a pickle (torch retries it unsafely)."""
    import torch

    buffer = io.BytesIO()
    torch.save((Payload(marker),), buffer)
    return zip_replacing(pt2, dest, "sample_inputs/model.pt", buffer.getvalue())


def keras_lambda(dest: Path, marker: Path) -> Path:
    """A Keras model whose Lambda layer creates `marker` when it runs."""
    import keras

    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Lambda(lambda x, m=str(marker): (open(m, "w").close(), x)[1]),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(10),
        ]
    )
    model.save(dest)
    Path(marker).unlink(missing_ok=True)  # saving traced the lambda once
    return dest


def onnx_model(dest: Path, *, op: str = "Relu", opset: int = 18, shape: list[object] | None = None) -> Path:
    """A one-node ONNX model (ir_version 10, which onnxruntime reads)."""
    import onnx
    from onnx import TensorProto, helper

    shape = shape or [1, 4]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)
    graph = helper.make_graph([helper.make_node(op, ["x"], ["y"])], "g", [x], [y])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=10), dest)
    return dest


def onnx_without_initializer(source: Path, dest: Path) -> Path:
    import onnx

    model = onnx.load(source)
    del model.graph.initializer[0]
    onnx.save(model, dest)
    return dest


def npz(dest: Path, **arrays: np.ndarray) -> Path:
    np.savez(dest, **arrays)
    return dest


def npy_forged_header(dest: Path, shape: tuple[int, ...]) -> Path:
    """A .npy whose header promises `shape` float32 values but holds a few bytes."""
    with open(dest, "wb") as handle:
        np.lib.format.write_array_header_1_0(handle, {"descr": "<f4", "fortran_order": False, "shape": shape})
        handle.write(b"\0" * 64)
    return dest


def images(shape: tuple[int, ...] = (4, 1, 8, 8)) -> np.ndarray:
    return np.random.default_rng(0).random(shape, dtype=np.float32)
