"""1-D CNN for UEA BasicMotions (factory for ``--model-class sample_models.sensor:make_model``).

Input: N x 6 x WINDOW float32 windows of 3-axis accelerometer + 3-axis gyroscope readings,
each channel standardised with the training-set mean/std stored in ``sensor_norm.json``.
"""

from __future__ import annotations

from torch import nn

CHANNELS = 6
WINDOW = 64
CLASSES = ("Badminton", "Running", "Standing", "Walking")
INPUT_SHAPE = (1, CHANNELS, WINDOW)


def _conv_block(cin: int, cout: int, kernel: int) -> list[nn.Module]:
    """Same-padded 1-D conv + batch norm + ReLU."""
    return [nn.Conv1d(cin, cout, kernel, padding=kernel // 2, bias=False), nn.BatchNorm1d(cout), nn.ReLU()]


def make_model() -> nn.Module:
    """Untrained sensor CNN: input N x 6 x 64, output N x 4 logits (order of ``CLASSES``)."""
    return nn.Sequential(
        *_conv_block(CHANNELS, 64, 5),
        nn.MaxPool1d(2),  # 64 -> 32
        *_conv_block(64, 128, 5),
        nn.MaxPool1d(2),  # 32 -> 16
        *_conv_block(128, 256, 7),
        nn.AdaptiveAvgPool1d(1),
        nn.Flatten(),
        nn.Linear(256, 256),
        nn.ReLU(),
        nn.Linear(256, len(CLASSES)),
    )
