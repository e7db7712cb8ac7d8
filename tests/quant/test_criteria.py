"""Issue 3's figures on the sample models with their real held-out data (the slow part of the suite).

int8 (each format's default static recipe) must keep the held-out accuracy within 1 point
of the float source, measured in the artifact's own runtime, and be at most 0.27x the fp32
artifact (int8 weights are 0.25x; per-channel scales, int32 biases and the graph add the rest).
"""

from pathlib import Path

import pytest

from tests.quant.conftest import quantize, sample

CASES = [  # model, eval, calibration, max int8/fp32 size ratio
    *[("digits_cnn.pt2", "digits_eval.npz", "digits_calib.npz", fmt, 0.27) for fmt in ("tflite", "onnx", "executorch")],
    *[("digits_cnn.keras", "digits_eval_nhwc.npz", "digits_calib_nhwc.npz", fmt, 0.27) for fmt in ("tflite", "onnx")],
    *[("mnist_cnn.pt2", "mnist_eval.npz", "mnist_calib.npz", fmt, 0.27) for fmt in ("tflite", "onnx", "executorch")],
    *[("sensor_cnn.pt2", "sensor_eval.npz", "sensor_calib.npz", fmt, 0.27) for fmt in ("tflite", "onnx", "executorch")],
]


@pytest.mark.parametrize(
    "model, eval_data, calibration, fmt, max_ratio",
    CASES,
    ids=[f"{c[0].split('.')[0]}-{c[0].split('.')[1]}-{c[3]}" for c in CASES],
)
def test_int8_keeps_held_out_accuracy_and_shrinks(
    out: Path, model: str, eval_data: str, calibration: str, fmt: str, max_ratio: float
):
    fp32 = quantize(sample(model), fmt, "fp32", out / "fp32")
    int8 = quantize(
        sample(model), fmt, "int8", out / "int8", eval_data=sample(eval_data), calibration=sample(calibration)
    )
    manifest = int8.manifest
    assert manifest["status"] == "ok", manifest["validation"]
    acc = manifest["accuracy"]
    assert acc["metric"] == "top1_accuracy" and acc["source"] >= 95.0 and acc["drop"] <= 1.0, acc
    assert manifest["quantization"]["calibration"] == {"kind": "file", "path": str(sample(calibration)), "samples": 200}
    assert manifest["quantization"]["settings"]["per_channel"] is True
    ratio = manifest["artifact"]["size_bytes"] / fp32.manifest["artifact"]["size_bytes"]
    assert ratio <= max_ratio, ratio
