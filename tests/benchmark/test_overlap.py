"""Calibration and eval data that overlap are a warning, found by path, bytes or shared samples."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge_kit.benchmark.overlap import overlap
from tests.conftest import SAMPLES


def test_the_same_file_the_same_bytes_and_shared_samples_are_found(tmp_path: Path):
    evalset = SAMPLES / "digits_eval.npz"
    assert "same file" in (overlap(str(evalset), evalset) or "")
    copy = tmp_path / "copy.npz"
    copy.write_bytes(evalset.read_bytes())
    assert "same bytes" in (overlap(str(copy), evalset) or "")
    x = np.load(evalset)["x"]
    np.save(tmp_path / "calib.npy", np.concatenate([x[:7], np.load(SAMPLES / "digits_calib.npz")["x"][:50]]))
    warning = overlap(str(tmp_path / "calib.npy"), evalset)
    assert warning and warning.startswith(f"7 of the {len(x)} eval samples in digits_eval.npz are also calibration")


def test_disjoint_data_random_calibration_and_folders_are_quiet(tmp_path: Path):
    evalset = SAMPLES / "digits_eval.npz"
    assert overlap(str(SAMPLES / "digits_calib.npz"), evalset) is None
    assert overlap("random", evalset) is None and overlap(str(tmp_path), evalset) is None
    assert overlap(None, evalset) is None and overlap(str(SAMPLES / "digits_calib.npz"), None) is None
