"""MobileNetV3 Large and Small 1.0 224 (Howard et al. 2019), in plain torch, seeded random weights.

torchvision's layout (``torchvision.models.mobilenet_v3_large/small``, which cannot be imported
here): inverted residual blocks with squeeze-excite (hard-sigmoid gate) and hard-swish. Random
weights are enough for latency: the work and the bytes do not depend on the values.
"""

from __future__ import annotations

import torch
from torch import nn

from .mobilenet import SEED, _init_weights, _seeded

# (input, kernel, expanded, output, squeeze-excite, hard-swish, stride) of each block
_LARGE = (
    (16, 3, 16, 16, False, False, 1),
    (16, 3, 64, 24, False, False, 2),
    (24, 3, 72, 24, False, False, 1),
    (24, 5, 72, 40, True, False, 2),
    (40, 5, 120, 40, True, False, 1),
    (40, 5, 120, 40, True, False, 1),
    (40, 3, 240, 80, False, True, 2),
    (80, 3, 200, 80, False, True, 1),
    (80, 3, 184, 80, False, True, 1),
    (80, 3, 184, 80, False, True, 1),
    (80, 3, 480, 112, True, True, 1),
    (112, 3, 672, 112, True, True, 1),
    (112, 5, 672, 160, True, True, 2),
    (160, 5, 960, 160, True, True, 1),
    (160, 5, 960, 160, True, True, 1),
)
_SMALL = (
    (16, 3, 16, 16, True, False, 2),
    (16, 3, 72, 24, False, False, 2),
    (24, 3, 88, 24, False, False, 1),
    (24, 5, 96, 40, True, True, 2),
    (40, 5, 240, 40, True, True, 1),
    (40, 5, 240, 40, True, True, 1),
    (40, 5, 120, 48, True, True, 1),
    (48, 5, 144, 48, True, True, 1),
    (48, 5, 288, 96, True, True, 2),
    (96, 5, 576, 96, True, True, 1),
    (96, 5, 576, 96, True, True, 1),
)


def _divisible(value: float, divisor: int = 8) -> int:
    """torchvision's ``_make_divisible``: nearest multiple of `divisor`, never 10% below `value`."""
    new = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return new + divisor if new < 0.9 * value else new


def _conv(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1, act: type | None = None) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
    ]
    if act is not None:
        layers.append(act(inplace=True))
    return nn.Sequential(*layers)


class SqueezeExcite(nn.Module):
    """Global average pool, 1x1 reduce + ReLU, 1x1 expand + hard-sigmoid, scale the input."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        squeeze = _divisible(channels // 4)
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = nn.functional.adaptive_avg_pool2d(x, 1)
        s = nn.functional.hardsigmoid(self.fc2(nn.functional.relu(self.fc1(s))))
        return x * s


class Bneck(nn.Module):
    """MobileNetV3 block: 1x1 expand, k x k depthwise, optional squeeze-excite, 1x1 project (+ residual)."""

    def __init__(self, cin: int, kernel: int, exp: int, cout: int, se: bool, hswish: bool, stride: int) -> None:
        super().__init__()
        act = nn.Hardswish if hswish else nn.ReLU
        layers: list[nn.Module] = [] if exp == cin else [_conv(cin, exp, 1, act=act)]
        layers.append(_conv(exp, exp, kernel, stride, groups=exp, act=act))
        if se:
            layers.append(SqueezeExcite(exp))
        layers.append(_conv(exp, cout, 1))
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x) if self.residual else self.block(x)


class MobileNetV3(nn.Module):
    """torchvision's MobileNetV3 (width 1.0): stem, blocks, 1x1 conv to 6x the last width, 2-layer head."""

    def __init__(self, setting: tuple[tuple, ...], last: int, num_classes: int = 1000) -> None:
        super().__init__()
        layers: list[nn.Module] = [_conv(3, 16, 3, 2, act=nn.Hardswish)]
        layers += [Bneck(*block) for block in setting]
        cout = 6 * setting[-1][3]
        layers.append(_conv(setting[-1][3], cout, 1, act=nn.Hardswish))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.Linear(cout, last), nn.Hardswish(inplace=True), nn.Dropout(0.2), nn.Linear(last, num_classes)
        )
        _init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.adaptive_avg_pool2d(self.features(x), 1)
        return self.classifier(torch.flatten(x, 1))


def mobilenet_v3_large(seed: int = SEED) -> MobileNetV3:
    """MobileNetV3 Large 1.0 224 in eval mode (5.48 M parameters, 217 M multiply-accumulates)."""
    with _seeded(seed):
        return MobileNetV3(_LARGE, 1280).eval()


def mobilenet_v3_small(seed: int = SEED) -> MobileNetV3:
    """MobileNetV3 Small 1.0 224 in eval mode (2.54 M parameters, 56 M multiply-accumulates)."""
    with _seeded(seed):
        return MobileNetV3(_SMALL, 1024).eval()
