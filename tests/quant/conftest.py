"""Helpers for quantization tests: the checked-in sample models and a quantize-and-measure call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from edge_kit.pipeline import ExportRequest, ExportResult, export
from tests.conftest import SAMPLES

SUFFIX = {"tflite": ".tflite", "onnx": ".onnx", "executorch": ".pte"}


def sample(name: str) -> Path:
    path = SAMPLES / name
    if not path.exists():
        pytest.skip(f"sample file {name} is missing: regenerate with `python -m sample_models`")
    return path


def quantize(model: Path, fmt: str, precision: str, out: Path, **kwargs: Any) -> ExportResult:
    """Export `model` to `fmt` at `precision`; the manifest must match what the call returned."""
    result = export(
        ExportRequest(
            model=model,
            format=fmt,
            precision=precision,
            output=out / f"{model.name.split('.')[0]}.{precision}{SUFFIX[fmt]}",
            **kwargs,
        )
    )
    assert result.artifact.stat().st_size == result.manifest["artifact"]["size_bytes"]
    assert result.manifest["artifact"]["precision"] == precision
    return result


def digits(precision: str) -> dict[str, Any]:
    """Eval (and, for static int8, calibration) data of the torch digits CNN."""
    extra = {"calibration": sample("digits_calib.npz")} if precision == "int8" else {}
    return {"eval_data": sample("digits_eval.npz"), **extra}


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path
