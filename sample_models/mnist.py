"""MNIST CNN architecture (factory for ``--model-class sample_models.mnist:make_model``)."""

from __future__ import annotations

from torch import nn

NUM_CLASSES = 10
INPUT_SHAPE = (1, 1, 28, 28)


def _conv_block(cin: int, cout: int) -> list[nn.Module]:
    """3x3 conv + batch norm + ReLU + 2x2 max-pool (halves height and width)."""
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(), nn.MaxPool2d(2)]


def make_model() -> nn.Module:
    """Untrained MNIST CNN: input N x 1 x 28 x 28 float32 in [0, 1], output N x 10 logits."""
    return nn.Sequential(
        *_conv_block(1, 32),  # 28 -> 14
        *_conv_block(32, 64),  # 14 -> 7
        *_conv_block(64, 64),  # 7 -> 3
        nn.Flatten(),
        nn.Linear(64 * 3 * 3, 512),
        nn.ReLU(),
        nn.Linear(512, NUM_CLASSES),
    )
