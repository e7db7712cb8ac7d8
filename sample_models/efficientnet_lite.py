"""EfficientNet-Lite0 (224) and Lite4 (300), in plain torch, seeded random weights.

The layout of tensorflow/tpu's ``efficientnet_lite_builder.py``: EfficientNet-B0's MBConv
blocks scaled by (width, depth), with the Lite changes: no squeeze-excite, ReLU6 instead of
swish, stem (32) and head (1280) fixed, first and last stages not repeated more. Random
weights are enough for latency: the work and the bytes do not depend on the values.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .mobilenet import SEED, ConvBNReLU, _init_weights, _seeded

# EfficientNet-B0 stages: (repeats, kernel, stride, expand ratio, input, output)
_B0 = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
# (width, depth, resolution) of each variant, from efficientnet_lite_builder.py
LITE = {"lite0": (1.0, 1.0, 224), "lite4": (1.4, 1.8, 300)}


def _filters(filters: int, width: float, divisor: int = 8) -> int:
    """tensorflow/tpu's ``round_filters``."""
    scaled = filters * width
    new = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return int(new + divisor if new < 0.9 * scaled else new)


class MBConv(nn.Module):
    """1x1 expand (unless ratio 1), k x k depthwise, 1x1 linear projection (+ residual); ReLU6."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int, skip: bool) -> None:
        super().__init__()
        hidden = cin * expand
        layers: list[nn.Module] = [] if expand == 1 else [ConvBNReLU(cin, hidden, kernel=1)]
        layers += [
            ConvBNReLU(hidden, hidden, kernel=kernel, stride=stride, groups=hidden),
            nn.Conv2d(hidden, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
        ]
        self.block = nn.Sequential(*layers)
        self.residual = skip and stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x) if self.residual else self.block(x)


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite at one (width, depth) scaling."""

    def __init__(self, width: float, depth: float, num_classes: int = 1000) -> None:
        super().__init__()
        cin = 32  # fixed stem
        layers: list[nn.Module] = [ConvBNReLU(3, cin, stride=2)]
        for i, (repeats, kernel, stride, expand, _, out) in enumerate(_B0):
            n = repeats if i in (0, len(_B0) - 1) else int(math.ceil(depth * repeats))
            cout = _filters(out, width)
            for j in range(n):
                # The block's nominal input width decides the residual (the first block's is the
                # scaled stem width, which the fixed stem never matches).
                nominal = _filters(_B0[i][4], width) if j == 0 else cout
                layers.append(MBConv(cin, cout, kernel, stride if j == 0 else 1, expand, nominal == cout))
                cin = cout
        layers.append(ConvBNReLU(cin, 1280, kernel=1))  # fixed head
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(1280, num_classes)
        _init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.adaptive_avg_pool2d(self.features(x), 1)
        return self.classifier(torch.flatten(x, 1))


def efficientnet_lite(variant: str, seed: int = SEED) -> EfficientNetLite:
    """EfficientNet-Lite0 (4.65 M parameters) or Lite4 (13.0 M) in eval mode; input side: LITE[variant][2]."""
    width, depth, _ = LITE[variant]
    with _seeded(seed):
        return EfficientNetLite(width, depth).eval()
