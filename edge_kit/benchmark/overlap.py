"""Calibration and eval data that overlap: an accuracy measured on the very inputs the int8 ranges
were fitted to flatters the int8 variants. Not an error (it is sometimes all there is), a warning.

Compared: the paths, the files' bytes, then the samples themselves (each row of every array,
hashed with its dtype and shape, so the same images saved in two files are found too).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from edge_kit.errors import EdgeKitError

LABELS = "y"


def _rows(path: Path) -> set[str]:
    """A digest per sample (first axis) of every input array in a .npz/.npy."""
    from edge_kit.data import read_arrays

    digests: set[str] = set()
    for name, array in read_arrays(path).items():
        if name == LABELS or array.ndim == 0:
            continue
        for row in array:
            digests.add(hashlib.sha256(f"{row.dtype}{row.shape}".encode() + row.tobytes()).hexdigest())
    return digests


def overlap(calibration: str | Path | None, eval_data: str | Path | None) -> str | None:
    """A one-line warning when the calibration and eval data share samples, else None."""
    if not calibration or not eval_data or str(calibration) == "random":
        return None
    cal, ev = Path(calibration), Path(eval_data)
    if not cal.is_file() or not ev.is_file():  # an image folder is calibration, never eval data
        return None
    if cal.resolve() == ev.resolve():
        return (
            f"--calibration and --eval are the same file ({ev.name}): int8 is judged on the inputs it was calibrated on"
        )
    from edge_kit.fsutil import sha256_file

    if sha256_file(cal) == sha256_file(ev):
        return (
            f"--calibration {cal.name} and --eval {ev.name} hold the same bytes: "
            "int8 is judged on the inputs it was calibrated on"
        )
    try:
        evals = _rows(ev)
        shared = _rows(cal) & evals
    except EdgeKitError:
        return None  # unreadable data is the export's error to report, with its own message
    if not shared:
        return None
    return (
        f"{len(shared)} of the {len(evals)} eval samples in {ev.name} are also calibration samples in {cal.name}: "
        "the accuracy of int8 variants is measured partly on the inputs their ranges were fitted to"
    )
