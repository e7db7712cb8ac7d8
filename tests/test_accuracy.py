"""Accuracy measured in the artifact's runtime: eval files, labels or agreement, the drop."""

import json
from pathlib import Path

import numpy as np
import pytest

from edge_kit.accuracy import Accuracy, load_eval, outputs, wilson95
from edge_kit.errors import DataError
from edge_kit.pipeline import ExportRequest, export
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


def test_the_wilson_interval_matches_its_closed_forms():
    z2 = 1.959964**2
    assert wilson95(0, 10) == pytest.approx((0.0, 100 * z2 / (10 + z2)))  # no successes
    assert wilson95(22, 22) == pytest.approx((100 * 22 / (22 + z2), 100.0))  # all successes
    low, high = wilson95(18, 22)
    assert (low, high) == pytest.approx(tuple(100 - v for v in reversed(wilson95(4, 22))))  # symmetric
    assert low < 100 * 18 / 22 < high
    assert high - low > wilson95(180, 220)[1] - wilson95(180, 220)[0]  # more samples, narrower


def test_every_accuracy_carries_its_resolution_and_interval():
    acc = Accuracy("top1_agreement", 100.0, 100 * 18 / 22, 100 * 4 / 22, 22, "photos.npz").to_dict()
    assert acc["resolution_points"] == pytest.approx(4.5455)
    assert acc["artifact_interval95"] == pytest.approx([61.48, 92.69], abs=0.01)


@pytest.mark.parametrize("fmt", ["onnx", "tflite"])
def test_fp32_export_reports_its_accuracy_with_no_drop(tiny: dict, tmp_path: Path, fmt: str, capsys):
    x = np.random.default_rng(1).random((12, 1, 8, 8), dtype=np.float32)
    result = export(
        ExportRequest(
            model=tiny["cnn.pt2"],
            format=fmt,
            output=tmp_path / f"m.{fmt}",
            eval_data=_eval(tmp_path, x=x, y=np.arange(12) % 10),
            max_accuracy_drop=1.0,
        )
    )
    acc = result.manifest["accuracy"]
    assert acc["metric"] == "top1_accuracy" and acc["samples"] == 12
    assert acc["drop"] == 0.0 and acc["source"] == acc["artifact"]
    low, high = acc["artifact_interval95"]
    assert low < acc["artifact"] <= high and acc["resolution_points"] == pytest.approx(100 / 12, abs=1e-4)
    # a 1-point budget on 12 samples (8.33 points each) is called out, and the export still succeeds
    assert "12 eval samples: one sample moves top1_accuracy by 8.33 points" in capsys.readouterr().err
    assert result.manifest["status"] == "ok"
    assert result.manifest["validation"]["inputs"].endswith("(eval inputs)")
    assert "quantization" not in result.manifest


def test_without_labels_the_metric_is_agreement_with_the_source(tiny: dict, tmp_path: Path):
    x = np.random.default_rng(2).random((8, 8, 8, 1), dtype=np.float32)
    result = run_cli(
        "export",
        tiny["cnn.keras"],
        "--format",
        "tflite",
        "--quantize",
        "int8",  # static: dynamic range would leave this tiny model's small weights in float (refused)
        "--calibration",
        "random",
        "--eval",
        _eval(tmp_path, x=x),
        "-o",
        tmp_path / "m.tflite",
        "--json",
    )
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
    budget_only = run_cli(
        "export", tiny["cnn.pt2"], "--format", "onnx", "--max-accuracy-drop", "1", "-o", out / "m.onnx"
    )
    assert_clean_error(budget_only, 2, "needs held-out data")
