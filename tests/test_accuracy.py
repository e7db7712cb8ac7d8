"""Accuracy measured in the artifact's runtime: eval files, labels or agreement, the drop."""

import json
from pathlib import Path

import numpy as np
import pytest

from edge_kit.accuracy import load_eval, outputs
from edge_kit.errors import DataError
from edge_kit.export import ExportRequest, export
from edge_kit.signature import TensorSpec
from tests.conftest import assert_clean_error, run_cli, snapshot

SPEC = [TensorSpec("x", (1, 1, 8, 8))]


def _eval(tmp_path: Path, **arrays: np.ndarray) -> Path:
    path = tmp_path / "eval.npz"
    np.savez(path, **arrays)
    return path


def test_labels_are_checked(tmp_path: Path):
    x = np.random.default_rng(0).random((6, 1, 8, 8), dtype=np.float32)
    ok = load_eval(_eval(tmp_path, x=x, y=np.arange(6)), SPEC)
    assert ok.samples == 6 and ok.labels.tolist() == list(range(6))
    assert load_eval(_eval(tmp_path, x=x), SPEC).labels is None
    with pytest.raises(DataError, match="1-D integer array"):
        load_eval(_eval(tmp_path, x=x, y=np.eye(6)), SPEC)
    with pytest.raises(DataError, match="4 labels for 6 inputs"):
        load_eval(_eval(tmp_path, x=x, y=np.arange(4)), SPEC)
    with pytest.raises(DataError, match="labels but no inputs"):
        load_eval(_eval(tmp_path, y=np.arange(4)), SPEC)


def test_only_classifier_outputs_have_a_top1(tmp_path: Path):
    evalset = load_eval(_eval(tmp_path, x=np.zeros((2, 1, 8, 8), np.float32)), SPEC)
    with pytest.raises(DataError, match="classifier output"):
        outputs(lambda arrays: [np.zeros((1, 4, 4, 2))], evalset)


@pytest.mark.parametrize("fmt", ["onnx", "tflite"])
def test_fp32_export_reports_its_accuracy_with_no_drop(tiny: dict, tmp_path: Path, fmt: str):
    x = np.random.default_rng(1).random((12, 1, 8, 8), dtype=np.float32)
    result = export(ExportRequest(model=tiny["cnn.pt2"], format=fmt, output=tmp_path / f"m.{fmt}",
                                  eval_data=_eval(tmp_path, x=x, y=np.arange(12) % 10)))
    acc = result.manifest["accuracy"]
    assert acc["metric"] == "top1_accuracy" and acc["samples"] == 12
    assert acc["drop"] == 0.0 and acc["source"] == acc["artifact"]
    assert result.manifest["validation"]["inputs"].endswith("(eval inputs)")
    assert "quantization" not in result.manifest


def test_without_labels_the_metric_is_agreement_with_the_source(tiny: dict, tmp_path: Path):
    x = np.random.default_rng(2).random((8, 8, 8, 1), dtype=np.float32)
    result = run_cli("export", tiny["cnn.keras"], "--format", "tflite", "--quantize", "int8-dynamic",
                     "--eval", _eval(tmp_path, x=x), "-o", tmp_path / "m.tflite", "--json")
    assert result.code == 0, result.stderr[-2000:]
    acc = json.loads(result.stdout)["accuracy"]
    assert acc["metric"] == "top1_agreement" and acc["source"] == 100.0 and acc["samples"] == 8
    assert acc["drop"] == pytest.approx(100.0 - acc["artifact"])


def test_bad_eval_data_fails_cleanly_and_leaves_nothing(tiny: dict, tmp_path: Path):
    out = tmp_path / "out"
    out.mkdir()
    bad = _eval(tmp_path, x=np.zeros((4, 1, 8, 8), np.float32), y=np.ones((4, 10)))
    result = run_cli("export", tiny["cnn.pt2"], "--format", "onnx", "--eval", bad, "-o", out / "m.onnx")
    assert_clean_error(result, 7, "1-D integer array")
    assert snapshot(out) == {}
    budget_only = run_cli("export", tiny["cnn.pt2"], "--format", "onnx", "--max-accuracy-drop", "1",
                          "-o", out / "m.onnx")
    assert_clean_error(budget_only, 2, "needs held-out data")
