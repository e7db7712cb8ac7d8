"""Artifacts to profile: the digits sample exported to every profilable format, plus an int8 TFLite."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge_kit.pipeline import ExportRequest, export
from tests.conftest import SAMPLES


@pytest.fixture(scope="session")
def digits_artifacts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("digits-artifacts")
    out = {}
    for fmt, suffix in (("tflite", ".tflite"), ("onnx", ".onnx"), ("executorch", ".pte")):
        out[fmt] = export(
            ExportRequest(
                model=SAMPLES / "digits_cnn.pt2", format=fmt, output=folder / f"digits{suffix}", num_samples=2
            )
        ).artifact
    return out


@pytest.fixture(scope="session")
def int8_tflite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A full-integer int8 conv net (TFLiteConverter), big enough for int8 GEMM kernels to matter."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((32, 32, 16)),
            keras.layers.Conv2D(64, 3, padding="same"),
            keras.layers.ReLU(),
            keras.layers.Conv2D(64, 1),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(10),
        ]
    )
    rng = np.random.default_rng(0)

    def representative():
        for _ in range(8):
            yield [rng.random((1, 32, 32, 16), dtype=np.float32)]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    path = tmp_path_factory.mktemp("int8") / "conv_int8.tflite"
    path.write_bytes(converter.convert())
    return path
