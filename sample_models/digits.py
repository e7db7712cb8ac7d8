"""Digits CNN: the architecture (torch and a Keras twin) for scikit-learn's 8x8 digits.

``make_model`` is the factory for ``--model-class sample_models.digits:make_model``
(it builds the untrained torch module that ``digits_cnn_state.pt`` fits).
"""

from __future__ import annotations

from typing import Any

from torch import nn

NUM_CLASSES = 10
INPUT_SHAPE_NCHW = (1, 1, 8, 8)
INPUT_SHAPE_NHWC = (1, 8, 8, 1)


def make_model() -> nn.Module:
    """Untrained digits CNN: input N x 1 x 8 x 8 float32 in [0, 1], output N x 10 logits."""
    return nn.Sequential(
        nn.Conv2d(1, 32, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.Conv2d(32, 64, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64 * 4 * 4, 256),
        nn.ReLU(),
        nn.Linear(256, NUM_CLASSES),
    )


def make_keras_model() -> Any:
    """Keras twin of :func:`make_model`: input N x 8 x 8 x 1 (NHWC), output N x 10 logits."""
    import keras  # lazy: TensorFlow takes seconds to import

    return keras.Sequential(
        [
            keras.Input(shape=INPUT_SHAPE_NHWC[1:]),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
            keras.layers.Conv2D(64, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(256, activation="relu"),
            keras.layers.Dense(NUM_CLASSES),
        ],
        name="digits_cnn",
    )
