"""Input data files (.npz/.npy) for validation, calibration and evaluation.

Never unpickles: arrays load with `allow_pickle=False`. Every problem (wrong shape,
wrong dtype, NaN/inf, empty) is a one-line DataError naming the file.
"""

from __future__ import annotations

import math
import struct
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import IO

import numpy as np

from edge_kit.errors import DataError
from edge_kit.signature import TensorSpec, static_size

NPY_MAGIC = b"\x93NUMPY"
MAX_DATA_BYTES = 8 << 30  # no single array of a data file may take more than 8 GiB of memory
# What numpy's and zipfile's parsers raise on damaged or forged files (besides ValueError).
PARSE_ERRORS = (
    OSError,
    EOFError,
    zipfile.BadZipFile,
    zlib.error,
    KeyError,
    TypeError,
    struct.error,
    UnicodeDecodeError,
    SyntaxError,
    NotImplementedError,
    OverflowError,
    RecursionError,
)


def read_arrays(path: Path) -> dict[str, np.ndarray]:
    """All arrays in a `.npz` (by name) or `.npy` (as 'x'), without unpickling.

    Each array's header is read first: an array larger than its file says it holds (a
    truncated or forged file), or than MAX_DATA_BYTES, is refused before any allocation.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"data file {path} does not exist", hint="check the path")
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(NPY_MAGIC))
        if head.startswith(NPY_MAGIC):
            with open(path, "rb") as handle:
                _check_header(handle, path.stat().st_size, "x", path)
            arrays = {"x": np.asarray(np.load(path, allow_pickle=False))}
        elif head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
            arrays = _read_npz(path)
        else:
            raise DataError(
                f"{path.name} is not a .npz or .npy file", hint="save the arrays with numpy.savez or numpy.save"
            )
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise DataError(
                f"{path.name} holds pickled Python objects; edgekit never unpickles data",
                hint="save plain numeric arrays with numpy.savez",
            ) from None
        raise DataError(f"{path.name} is not a readable .npz/.npy file: {_first_line(exc)}") from None
    except PARSE_ERRORS as exc:
        raise DataError(f"{path.name} is not a readable .npz/.npy file: {_first_line(exc)}") from None
    if not arrays:
        raise DataError(f"{path.name} holds no arrays")
    return arrays


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            with archive.open(info) as member:
                _check_header(member, info.file_size, info.filename.removesuffix(".npy"), path)
    with np.load(path, allow_pickle=False) as loaded:
        return {key: loaded[key] for key in loaded.files}


def _check_header(handle: IO[bytes], size: int, name: str, path: Path) -> None:
    """Refuse an array whose header promises more bytes than `size` holds, or than we accept."""
    version = np.lib.format.read_magic(handle)
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _fortran, dtype = read(handle)
    if dtype.hasobject:
        return  # np.load refuses it (allow_pickle=False) with its own message
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes > MAX_DATA_BYTES:
        raise DataError(
            f"{path.name}: array '{name}' of shape {list(shape)} would take {nbytes:,} bytes, "
            f"above the limit of {MAX_DATA_BYTES:,}",
            hint="pass fewer or smaller samples",
        )
    if nbytes > size:
        raise DataError(
            f"{path.name}: array '{name}' of shape {list(shape)} needs {nbytes:,} bytes but the file holds {size:,}",
            hint="the file is truncated or damaged; save it again",
        )


def _first_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:160] if text else type(exc).__name__


def _check_array(name: str, array: np.ndarray, spec: TensorSpec, source: str) -> np.ndarray:
    if array.size == 0 or (array.ndim and array.shape[0] == 0):
        raise DataError(f"{source}: array '{name}' is empty")
    if not spec.shape and array.ndim == 0:  # a scalar input (a sample rate): one value for every sample
        return array.astype(spec.dtype, copy=False)
    if array.dtype.kind not in "fiub":
        raise DataError(
            f"{source}: array '{name}' has dtype {array.dtype}, expected numbers", hint=f"save it as {spec.dtype}"
        )
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise DataError(
            f"{source}: array '{name}' contains NaN or inf values",
            hint="clean the data before calibrating or evaluating",
        )
    sample = tuple(static_size(d) for d in spec.shape[1:])
    if tuple(array.shape[1:]) != sample:
        raise DataError(
            f"{source}: array '{name}' has samples of shape {list(array.shape[1:])}, "
            f"the model's input '{spec.name}' takes {list(sample)}",
            hint=f"save an array of shape [N, {', '.join(map(str, sample))}]",
        )
    return array.astype(spec.dtype, copy=False)


def input_batches(
    arrays: dict[str, np.ndarray], specs: Sequence[TensorSpec], source: str, limit: int | None = None
) -> list[list[np.ndarray]]:
    """Split [N, ...] arrays into N single-sample batches matching `specs`.

    A single-input model takes the array named after its input, or `x`, or the only array.
    """
    chosen = []
    for i, spec in enumerate(specs):
        key = spec.name if spec.name in arrays else ("x" if "x" in arrays and len(specs) == 1 else None)
        if key is None and len(specs) == 1 and len(arrays) == 1:
            key = next(iter(arrays))
        if key is None:
            key = f"x{i}" if f"x{i}" in arrays else None
        if key is None:
            raise DataError(
                f"{source}: no array for input '{spec.name}' (found {', '.join(arrays)})",
                hint="name arrays after the model's inputs, or 'x' for a single input",
            )
        chosen.append(_check_array(key, arrays[key], spec, source))
    count = min((len(a) for a in chosen if a.ndim), default=1)
    if limit is not None:
        count = min(count, limit)
    batch = [static_size(s.shape[0]) if s.shape else 0 for s in specs]  # 0: a scalar input, one value per sample
    step = max(max(batch), 1)
    return [[_sample(a, j, b) for a, b in zip(chosen, batch)] for j in range(0, count - step + 1, step)]


def _sample(array: np.ndarray, start: int, batch: int) -> np.ndarray:
    """Sample(s) `start`.. of an [N, ...] array; for a scalar input its value (shared, or the start-th)."""
    if batch:
        return array[start : start + batch]
    return array if array.ndim == 0 else array[start]


def load_inputs(path: Path, specs: Sequence[TensorSpec], limit: int | None = None) -> list[list[np.ndarray]]:
    """Input batches from a data file, checked against the model's input specs."""
    return input_batches(read_arrays(path), specs, Path(path).name, limit)
