"""The accuracy budget end to end through the CLI: a rescue, and an honest failure."""

import json
from pathlib import Path

import numpy as np

from tests.conftest import assert_clean_error, run_cli
from tests.quant.conftest import sample


def test_a_drop_over_budget_is_rescued_by_keeping_layers_in_float(tmp_path: Path):
    # Random calibration data ([0, 1) while the sensor inputs are standardised) costs ~25 points.
    result = run_cli(
        "export",
        sample("sensor_cnn.pt2"),
        "--format",
        "onnx",
        "--quantize",
        "int8",
        "--calibration",
        "random",
        "--eval",
        sample("sensor_eval.npz"),
        "--max-accuracy-drop",
        "1.0",
        "-o",
        tmp_path / "s.onnx",
        "--json",
    )
    assert result.code == 0, result.stderr[-2000:]
    manifest = json.loads(result.stdout)
    budget = manifest["accuracy"]["budget"]
    assert manifest["status"] == "ok" and budget["status"] == "rescued"
    assert budget["initial_drop"] > 10.0 and budget["final_drop"] <= 1.0 and manifest["accuracy"]["drop"] <= 1.0
    assert budget["keep_float"] and budget["keep_float"] == manifest["quantization"]["keep_float"]
    assert budget["probes"] and budget["requantizations"] <= 14
    assert manifest["quantization"]["calibration"]["kind"] == "random"


def test_a_budget_that_cannot_hold_is_reported_and_exits_6(tiny: dict, tmp_path: Path):
    # int8 inputs calibrated on [0, 1) clip these inputs at the model's edge: no layer kept in
    # float can undo that, so the search ends over budget and keeps its best attempt.
    data = tmp_path / "eval.npz"
    np.savez(data, x=(3 * np.random.default_rng(3).standard_normal((64, 8, 8, 1))).astype(np.float32))
    out = tmp_path / "m.tflite"
    result = run_cli(
        "export",
        tiny["cnn.keras"],
        "--format",
        "tflite",
        "--recipe",
        "tflite_int8_full_integer_int8_io",
        "--calibration",
        "random",
        "--eval",
        data,
        "--max-accuracy-drop",
        "0",
        "-o",
        out,
    )
    assert_clean_error(result, 6, "exceeds --max-accuracy-drop 0.0")
    manifest = json.loads(out.with_name("m.tflite.json").read_text())
    assert manifest["status"] == "over_budget" and out.is_file()
    budget = manifest["accuracy"]["budget"]
    assert budget["status"] == "over_budget" and "still" in budget["reason"] and budget["steps"]


def test_an_int8_export_that_loses_accuracy_names_what_could_win_it_back(tmp_path: Path):
    args = [
        "--format",
        "onnx",
        "--quantize",
        "int8",
        "--calibration",
        "random",
        "--calibration-samples",
        "16",  # the percentile recipe's histograms cost seconds per sample
        "--eval",
        sample("sensor_eval.npz"),
        "--allow-mismatch",
    ]  # random calibration: far outside tolerance, on purpose
    plain = run_cli("export", sample("sensor_cnn.pt2"), *args, "-o", tmp_path / "p.onnx", "--json")
    assert plain.code == 0, plain.stderr[-2000:]
    assert json.loads(plain.stdout)["accuracy"]["drop"] > 1.0  # stdout stays one JSON document
    assert "hint: int8 cost" in plain.stderr
    assert "--recipe onnx_int8_static_qdq_per_channel_percentile_equalized" in plain.stderr
    assert "--max-accuracy-drop 1.0" in plain.stderr
    equalized = run_cli(
        "export",
        sample("sensor_cnn.pt2"),
        *args,
        "--recipe",
        "onnx_int8_static_qdq_per_channel_percentile_equalized",
        "-o",
        tmp_path / "e.onnx",
    )
    assert equalized.code == 0, equalized.stderr[-2000:]
    assert "hint: int8 cost" in equalized.stderr and "--recipe" not in equalized.stderr.split("hint:")[1]
