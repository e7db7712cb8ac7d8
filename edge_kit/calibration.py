"""Calibration data for static quantization: a `.npz`/`.npy` of inputs, a folder of images,
or — only when asked for by name — random inputs (the manifest then says so).

Images are preprocessed with the recipe's settings, overridden by flags: the shorter side
resized to `resize` (default: the input size), centre-cropped to the input size, pixels
times `scale`, then `(x - mean) / std`, in the input's layout. Every problem (wrong shape,
NaN/inf, empty folder, unreadable image) is one DataError, raised before anything is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from edge_kit.documents.base import problem
from edge_kit.errors import DataError, UsageError
from edge_kit.recipes import Preprocess, Recipe
from edge_kit.signature import TensorSpec, random_inputs, static_size

RANDOM = "random"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm")


@dataclass(frozen=True)
class Calibration:
    """Input batches for the quantizer, and how they were made (for the manifest)."""

    batches: list[list[np.ndarray]]
    description: dict[str, Any]


def merge_preprocess(base: Preprocess, overrides: dict[str, Any]) -> Preprocess:
    """The recipe's preprocessing with the user's flags applied (None means 'not given')."""
    given = {k: v for k, v in overrides.items() if v is not None}
    for key in ("mean", "std"):
        if key in given:
            given[key] = tuple(float(v) for v in given[key])
    try:
        return Preprocess.model_validate({**base.model_dump(), **given})
    except ValidationError as exc:
        text, hint = problem(exc, Preprocess)
        raise UsageError(f"--{text}", hint=hint) from None


def load_calibration(
    spec: str | Path | None,
    inputs: Sequence[TensorSpec],
    recipe: Recipe | None,
    samples: int | None = None,
    preprocess: dict[str, Any] | None = None,
) -> Calibration | None:
    """The calibration an export needs (None when its recipe takes none)."""
    if recipe is None or not recipe.needs_calibration:
        if spec is not None:
            what = f"recipe '{recipe.name}'" if recipe else "fp32"
            raise UsageError(
                f"--calibration was given but {what} uses no calibration data",
                hint="calibration applies to static int8 (--quantize int8)",
            )
        return None
    if spec is None:
        raise UsageError(
            f"static int8 quantization ({recipe.name}) needs calibration data",
            hint="pass --calibration inputs.npz or a folder of images; "
            "--calibration random only for a smoke test (accuracy will suffer)",
        )
    count = samples or recipe.calibration_samples
    if str(spec) == RANDOM:
        return Calibration(
            random_inputs(inputs, count, seed=0),
            {
                "kind": "random",
                "samples": count,
                "distribution": "uniform [0, 1) seed 0",
                "warning": "random calibration data: accuracy is not representative",
            },
        )
    path = Path(spec)
    if path.is_dir():
        pre = merge_preprocess(recipe.preprocess, preprocess or {})
        batches = image_batches(path, inputs, pre, count)
        return Calibration(
            batches, {"kind": "images", "path": str(path), "samples": len(batches), "preprocess": pre.describe()}
        )
    from edge_kit.data import load_inputs

    batches = load_inputs(path, inputs, count)
    if not batches:
        raise DataError(f"{path.name} holds fewer samples than one batch of the model's input")
    return Calibration(batches, {"kind": "file", "path": str(path), "samples": len(batches)})


def _image_geometry(spec: TensorSpec, pre: Preprocess) -> tuple[str, int, int, int]:
    """(layout, channels, height, width) of an image input, or a UsageError."""
    shape = tuple(static_size(d) for d in spec.shape)
    if len(shape) != 4:
        raise UsageError(
            f"a folder of images can calibrate only an image input; '{spec.name}' has shape {list(shape)}",
            hint="save the calibration inputs in a .npz instead",
        )
    layout = pre.layout if pre.layout != "auto" else (spec.layout or "NCHW")
    if layout == "NCHW":
        return layout, shape[1], shape[2], shape[3]
    return layout, shape[3], shape[1], shape[2]


def _load_image(path: Path, channels: int, color: str, height: int, width: int, resize: int) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as opened:
            opened.load()
            mode = {"rgb": "RGB", "gray": "L"}.get(color) or ("L" if channels == 1 else "RGB")
            img = opened.convert(mode)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise DataError(
            f"cannot read image {path.name}: {str(exc).splitlines()[0][:120]}",
            hint="remove or replace the file; calibration needs readable images",
        ) from None
    short = resize or max(height, width)
    w, h = img.size
    ratio = short / min(w, h)
    img = img.resize((max(width, round(w * ratio)), max(height, round(h * ratio))), Image.Resampling.BILINEAR)
    left, top = (img.size[0] - width) // 2, (img.size[1] - height) // 2
    array = np.asarray(img.crop((left, top, left + width, top + height)), dtype=np.float32)
    return array[:, :, None] if array.ndim == 2 else array


def image_batches(folder: Path, inputs: Sequence[TensorSpec], pre: Preprocess, limit: int) -> list[list[np.ndarray]]:
    """Preprocessed batches (of the input's batch size) from the image files in `folder`, by name."""
    if len(inputs) != 1:
        raise UsageError(
            f"a folder of images can calibrate a single-input model; this one has {len(inputs)}",
            hint="save the calibration inputs in a .npz with one array per input",
        )
    spec = inputs[0]
    layout, channels, height, width = _image_geometry(spec, pre)
    if channels not in (1, 3) or (pre.color == "gray" and channels != 1) or (pre.color == "rgb" and channels != 3):
        raise UsageError(
            f"input '{spec.name}' has {channels} channels in {layout}; images give 1 (gray) or 3 (rgb)",
            hint="check --layout, or save the calibration inputs in a .npz",
        )
    mean = np.asarray(pre.mean, np.float32)
    std = np.asarray(pre.std, np.float32)
    if mean.size not in (1, channels) or std.size not in (1, channels):
        raise UsageError(f"--mean/--std need 1 or {channels} values for input '{spec.name}'")
    files = sorted(
        p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
    )
    if not files:
        raise DataError(
            f"calibration folder {folder} holds no images",
            hint=f"put {', '.join(IMAGE_SUFFIXES[:4])}... files in it, or pass a .npz",
        )
    images = []
    for path in files[: limit * static_size(spec.shape[0])]:
        pixels = _load_image(path, channels, pre.color, height, width, pre.resize)
        x = (pixels * pre.scale - mean) / std
        images.append(x.transpose(2, 0, 1) if layout == "NCHW" else x)
    size = static_size(spec.shape[0])
    if len(images) < size:
        raise DataError(f"calibration folder {folder} holds {len(images)} image(s); one batch needs {size}")
    return [
        [np.ascontiguousarray(np.stack(images[i : i + size]), dtype=spec.dtype)]
        for i in range(0, len(images) - size + 1, size)
    ]
