"""A TFLite source exported to TFLite is the file itself, validated (fp32 only); a Keras model whose
own ONNX export leaves constants as graph inputs still reaches ExecuTorch (the bridge falls back to
tf2onnx, as an ONNX export does), through Keras' GlobalAveragePooling / ZeroPadding / Normalization."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import SAMPLES, assert_clean_error, run_cli


def test_a_tflite_source_is_copied_and_validated(tmp_path: Path) -> None:
    source = tmp_path / "digits.tflite"
    made = run_cli("export", SAMPLES / "digits_cnn.keras", "-f", "tflite", "-o", source)
    assert made.code == 0, made.stderr[-1500:]
    out = tmp_path / "copy.tflite"
    result = run_cli("export", source, "-f", "tflite", "-o", out, "--json")
    assert result.code == 0, result.stderr[-1500:]
    manifest = json.loads(result.stdout)
    assert manifest["status"] == "ok" and manifest["artifact"]["route"] == "copy"
    assert manifest["validation"]["max_abs_diff"] == 0.0  # LiteRT runs the same model on both sides
    assert out.read_bytes() == source.read_bytes()


def test_quantizing_a_tflite_source_names_what_works(tmp_path: Path) -> None:
    source = tmp_path / "digits.tflite"
    assert run_cli("export", SAMPLES / "digits_cnn.keras", "-f", "tflite", "-o", source).code == 0
    out = tmp_path / "q.tflite"
    result = run_cli("export", source, "-f", "tflite", "--quantize", "int8", "--calibration", "random", "-o", out)
    assert_clean_error(result, 4, "no conversion path tflite → tflite at int8", "tflite → tflite (fp32)")
    assert not out.exists()


def test_keras_normalization_padding_pooling_reach_executorch(tmp_path: Path) -> None:
    import keras
    import numpy as np

    norm = keras.layers.Normalization(mean=np.full(3, 0.5), variance=np.full(3, 0.25))
    model = keras.Sequential(
        [
            keras.Input((12, 12, 3)),
            norm,
            keras.layers.ZeroPadding2D(((1, 0), (0, 2))),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(3),
        ]
    )
    model.save(tmp_path / "norm.keras")
    result = run_cli("export", tmp_path / "norm.keras", "-f", "executorch", "-o", tmp_path / "n.pte", "--json")
    assert result.code == 0, result.stderr[-1500:]
    manifest = json.loads(result.stdout)
    assert manifest["status"] == "ok" and manifest["artifact"]["route"].startswith("tf-onnx+onnx2torch")
    assert manifest["validation"]["max_abs_diff"] < 1e-5
    artifact = manifest["artifact"]  # the ONNX route the bridge used, and why Keras' own export was passed over
    assert artifact["bridge_route"] == "tf2onnx" and "keras-export-onnx:" in artifact["bridge_routes_failed"]
