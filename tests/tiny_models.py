"""Tiny real models for fast tests (importable by --model-class as tests.tiny_models:TinyCNN)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


class TinyCNN(torch.nn.Module):
    """8x8 single-channel input, 10 logits."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 8, 3, padding=1)
        self.pool = torch.nn.AdaptiveAvgPool2d(2)
        self.fc = torch.nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(torch.relu(self.conv(x))).flatten(1))


def tiny_keras() -> Any:
    import keras

    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(10),
        ]
    )


class ResidualStream(torch.nn.Module):
    """MobileNetV2's linear bottleneck in miniature: two conv+BN outputs added, read by 1x1 convs,
    with one stream channel 60x louder than the others and its readers 60x quieter on it.
    `leak=True` puts a ReLU on the stream."""

    def __init__(self, leak: bool = False) -> None:
        super().__init__()
        nn = torch.nn
        self.leak = leak
        self.stem = nn.Conv2d(1, 8, 3, padding=1)
        self.proj1 = nn.Sequential(nn.Conv2d(8, 4, 1, bias=False), nn.BatchNorm2d(4))
        self.expand = nn.Conv2d(4, 8, 1)
        self.proj2 = nn.Sequential(nn.Conv2d(8, 4, 1, bias=False), nn.BatchNorm2d(4))
        self.head = nn.Conv2d(4, 8, 1)
        self.fc = nn.Linear(8, 10)
        with torch.no_grad():  # loud where written, quiet where read: as trained networks end up
            for bn in (self.proj1[1], self.proj2[1]):
                bn.weight[0] *= 60.0
            for reader in (self.expand, self.head):
                reader.weight[:, 0] /= 60.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        first = self.proj1(torch.relu(self.stem(x)))
        stream = first + self.proj2(torch.relu(self.expand(first)))
        if self.leak:
            stream = torch.relu(stream)
        out = torch.relu(self.head(stream))
        return self.fc(out.mean(dim=(2, 3)))


class DepthwiseGate(torch.nn.Module):
    """MobileNet's expansion in miniature: conv+BN -> ReLU6 -> depthwise conv+BN -> ReLU6 -> 1x1,
    with half the expanded channels 40x quieter than the rest. `dense=True` reads the ReLU6 with
    a plain conv instead (no free channel scaling)."""

    def __init__(self, dense: bool = False) -> None:
        super().__init__()
        nn = torch.nn
        self.expand = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU6())
        self.depthwise = nn.Sequential(
            nn.Conv2d(8, 8, 3, padding=1, groups=1 if dense else 8, bias=False), nn.BatchNorm2d(8), nn.ReLU6()
        )
        self.project = nn.Conv2d(8, 4, 1)
        self.fc = nn.Linear(4, 10)
        with torch.no_grad():
            bn = self.expand[1]
            bn.weight.copy_(torch.linspace(0.5, 1.5, 8))
            bn.bias.fill_(0.2)
            bn.weight[::2] /= 40.0
            bn.bias[::2] /= 40.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.project(self.depthwise(self.expand(x)))
        return self.fc(out.mean(dim=(2, 3)))


def image_batches(n: int, seed: int) -> list[list[np.ndarray]]:
    """`n` calibration batches of one uniform [0, 1) 1x1x8x8 image each (the tiny models' input)."""
    rng = np.random.default_rng(seed)
    return [[rng.random((1, 1, 8, 8), dtype=np.float32)] for _ in range(n)]
