"""Small real artifacts for the estimate tests: the digits CNN as TFLite and ONNX, and one real
profile of it on an emulated Raspberry Pi 4 (a few seconds)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SAMPLES, torch_reference
from tests.profiler.conftest import digits_artifacts  # noqa: F401  (the session fixture, shared)


@pytest.fixture(scope="session")
def digits_macs() -> int:
    """MACs of the digits CNN per inference, as torch's own FLOP counter sees the source model."""
    return torch_reference(SAMPLES / "digits_cnn.pt2", SAMPLES / "digits_eval.npz")[1]


@pytest.fixture(scope="session")
def digits(digits_artifacts: dict[str, Path]) -> dict[str, Path]:  # noqa: F811  (the imported fixture)
    """The digits CNN as tflite and onnx: the profiler tests' exports, shared."""
    return {fmt: digits_artifacts[fmt] for fmt in ("tflite", "onnx")}


@pytest.fixture(scope="session")
def raspi4_report(digits: dict[str, Path]) -> dict[str, Any]:
    """A real `edgekit profile` report: emulated Cortex-A72, instructions counted on one thread."""
    from edge_kit.profiler import ProfileRequest, profile

    return profile(
        ProfileRequest(artifact=digits["tflite"], target="raspi4", num_threads=4, num_runs=2, profile_ops=False)
    )
