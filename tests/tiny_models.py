"""Tiny real models for fast tests (importable by --model-class as tests.tiny_models:TinyCNN)."""

from __future__ import annotations

from typing import Any

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
    return keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
                             keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(10)])


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
