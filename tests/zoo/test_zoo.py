"""The zoo's representative subset: outside models exported by edgekit (fp32, one cell each),
asserted to validate ok wherever the raw converter run directly does (or where none exists).

Slow (a few real conversions per model): `-m zoo`, or `make test-zoo`. Needs the zoo's packages
(`make zoo-deps`); without them each case is skipped naming what is missing. Builds go to
$EDGEKIT_ZOO_CACHE when set (reused across runs), else to a temporary folder. The cases include
the ones issues 16 and 17 named as failing (silero's 0-d input, Keras' Normalization constants,
PP-OCR int8). The full matrix is benchmarks/bench_zoo.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.zoo import edgekit_cell
from benchmarks.zoo.build import load_built, missing_modules
from benchmarks.zoo.models import SUBSET, ZOO, by_name
from benchmarks.zoo.spec import FORMATS, SOURCE_SUFFIX

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 600


# BERT → tflite and Keras → tflite are covered by tests/inputs and tests/exporters (and the full matrix).
CASES = [
    pytest.param("timm-mobilenetv3_small_100", "executorch", "fp32", id="timm-mobilenetv3-executorch"),
    pytest.param("ultralytics-yolov8n", "onnx", "fp32", id="yolov8n-onnx"),
    # silero's ONNX → executorch: sr bound as a constant folds its If; the LSTM is unrolled (its
    # onnx cell is tests/inputs/test_real_models.py)
    pytest.param("silero-vad-onnx", "executorch", "fp32", id="silero-vad-onnx-executorch"),
    pytest.param("nudenet-320n", "onnx", "fp32", id="nudenet-onnx"),
    pytest.param(
        "keras-efficientnetb0",
        "onnx",
        "fp32",
        id="keras-efficientnetb0-onnx",
    ),
    pytest.param(
        "ppocr-cls",
        "onnx",
        "int8",
        id="ppocr-cls-onnx-int8",
    ),
]


@pytest.mark.zoo
def test_table_is_a_zoo() -> None:
    """At least 30 outside models, unique names, every origin present, every input specified."""
    names = [e.name for e in ZOO]
    assert len(ZOO) >= 30 and len(set(names)) == len(names)
    assert {"timm", "transformers", "ultralytics", "keras"} <= {e.framework for e in ZOO}
    assert sum(e.pretrained for e in ZOO) >= 8
    assert {c.values[0] for c in CASES} == set(SUBSET) and len(SUBSET) <= 8
    for entry in ZOO:
        assert entry.inputs and entry.how and (entry.source in SOURCE_SUFFIX or entry.source == "savedmodel")
        for spec in entry.inputs:
            assert spec.dtype.startswith("int") or spec.low < spec.high
    assert set(FORMATS) == {"onnx", "tflite", "executorch"}


@pytest.fixture(scope="session")
def zoo_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    shared = os.environ.get("EDGEKIT_ZOO_CACHE")
    return Path(shared) if shared else tmp_path_factory.mktemp("zoo")


def _build(name: str, cache: Path):
    """Build in a subprocess: timm/ultralytics (and the torchvision shim) stay out of pytest."""
    entry = by_name(name)
    missing = missing_modules(entry)
    if missing:
        pytest.skip(f"zoo packages missing: {', '.join(missing)} (make zoo-deps)")
    cmd = [sys.executable, "-m", "benchmarks.zoo.build", "--cache", str(cache), "--json", name]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=TIMEOUT)
    built = load_built(entry, cache)
    assert built is not None, done.stdout[-2000:] + done.stderr[-2000:]
    return built


def _raw(name: str, fmt: str, precision: str, cache: Path, out: Path) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.zoo.raw", "--cache", str(cache), "--out", str(out), name]
    done = subprocess.run([*cmd, f"{fmt}:{precision}"], capture_output=True, text=True, cwd=ROOT, timeout=TIMEOUT)
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert rows, done.stderr[-3000:]
    return rows[0]


@pytest.mark.slow
@pytest.mark.zoo
@pytest.mark.timeout(2 * TIMEOUT)
@pytest.mark.parametrize(("name", "fmt", "precision"), CASES)
def test_edgekit_matches_raw_converter(name: str, fmt: str, precision: str, zoo_cache: Path, tmp_path: Path) -> None:
    built = _build(name, zoo_cache)
    raw = _raw(name, fmt, precision, zoo_cache, tmp_path / "raw")
    # "none": no converter takes this source to this format directly (ONNX → ExecuTorch); edgekit must
    assert raw["status"] in ("ok", "none"), f"the raw converter itself does not validate: {raw}"
    edge = edgekit_cell.run(built, fmt, precision, tmp_path / "edgekit", timeout=TIMEOUT)
    assert edge.status == "ok", f"exit {edge.exit_code}: {edge.error or edge.reasons} (raw: {raw['converter']})"
    assert edge.max_abs_diff is not None and edge.size_bytes
