"""Input data files (.npz/.npy) for validation, calibration and evaluation.

Never unpickles: arrays load with `allow_pickle=False`. Every problem (wrong shape,
wrong dtype, NaN/inf, empty) is a one-line DataError naming the file.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Sequence

import numpy as np

from edge_kit.errors import DataError
from edge_kit.signature import TensorSpec


def read_arrays(path: Path) -> dict[str, np.ndarray]:
    """All arrays in a `.npz` (by name) or `.npy` (as 'x'), without unpickling."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"data file {path} does not exist", hint="check the path")
    try:
        loaded = np.load(path, allow_pickle=False)
        arrays = {k: loaded[k] for k in loaded.files} if isinstance(loaded, np.lib.npyio.NpzFile) \
            else {"x": np.asarray(loaded)}
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise DataError(f"{path.name} holds pickled Python objects; edgekit never unpickles data",
                            hint="save plain numeric arrays with numpy.savez") from None
        raise DataError(f"{path.name} is not a readable .npz/.npy file: {exc}") from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path.name} is not a readable .npz/.npy file: {exc}") from None
    if not arrays:
        raise DataError(f"{path.name} holds no arrays")
    return arrays


def _check_array(name: str, array: np.ndarray, spec: TensorSpec, source: str) -> np.ndarray:
    if array.size == 0 or array.shape[0] == 0:
        raise DataError(f"{source}: array '{name}' is empty")
    if array.dtype.kind not in "fiub":
        raise DataError(f"{source}: array '{name}' has dtype {array.dtype}, expected numbers",
                        hint=f"save it as {spec.dtype}")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise DataError(f"{source}: array '{name}' contains NaN or inf values",
                        hint="clean the data before calibrating or evaluating")
    sample = tuple(int(d) for d in spec.shape[1:])
    if tuple(array.shape[1:]) != sample:
        raise DataError(f"{source}: array '{name}' has samples of shape {list(array.shape[1:])}, "
                        f"the model's input '{spec.name}' takes {list(sample)}",
                        hint=f"save an array of shape [N, {', '.join(map(str, sample))}]")
    return array.astype(spec.dtype, copy=False)


def input_batches(arrays: dict[str, np.ndarray], specs: Sequence[TensorSpec], source: str,
                  limit: int | None = None) -> list[list[np.ndarray]]:
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
            raise DataError(f"{source}: no array for input '{spec.name}' (found {', '.join(arrays)})",
                            hint="name arrays after the model's inputs, or 'x' for a single input")
        chosen.append(_check_array(key, arrays[key], spec, source))
    count = min(len(a) for a in chosen)
    if limit is not None:
        count = min(count, limit)
    batch = [int(s.shape[0]) for s in specs]
    return [[a[j:j + b] for a, b in zip(chosen, batch)] for j in range(0, count - max(batch) + 1, max(batch))]


def load_inputs(path: Path, specs: Sequence[TensorSpec], limit: int | None = None) -> list[list[np.ndarray]]:
    """Input batches from a data file, checked against the model's input specs."""
    return input_batches(read_arrays(path), specs, Path(path).name, limit)
