"""Train the digits CNN (torch + Keras twin) on scikit-learn's bundled 8x8 digits.

    python -m sample_models.train_digits [--out DIR]

Split: stratified 75/25 of the 1,797 images (``random_state=0``): 1,347 train, 450 held out.
Writes digits_cnn.{pt,pt2,keras}, digits_cnn_state.pt, digits_eval[_nhwc].npz and
digits_calib[_nhwc].npz (200 training images).
"""

from __future__ import annotations

import argparse
import os
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import SAMPLE_DIR
from ._common import (
    SEED,
    THREADS,
    TrainConfig,
    accuracy,
    calib_indices,
    predict,
    report,
    save_npz,
    save_torch_artifacts,
    seed_everything,
    train_classifier,
    write_stable_zip,
)
from .digits import INPUT_SHAPE_NCHW, make_keras_model, make_model

TORCH_CFG = TrainConfig(epochs=30)
KERAS_EPOCHS = 30


def load_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(train indices, held-out indices, x N x 1 x 8 x 8 in [0, 1], y int64) over all digits."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None, :, :]
    y = digits.target.astype(np.int64)
    train, held = train_test_split(np.arange(len(y)), test_size=0.25, stratify=y, random_state=SEED)
    return np.sort(train), np.sort(held), x, y


def train_keras(x_train: np.ndarray, y_train: np.ndarray) -> Any:
    """Train the Keras twin (NHWC) deterministically; returns an uncompiled model."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(THREADS)
    tf.config.threading.set_inter_op_parallelism_threads(THREADS)
    keras.utils.set_random_seed(SEED)
    tf.config.experimental.enable_op_determinism()
    model = make_keras_model()
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    model.fit(x_train, y_train, epochs=KERAS_EPOCHS, batch_size=64, shuffle=True, verbose=0)
    inference = make_keras_model()  # uncompiled copy: the .keras file then holds no optimizer
    inference.set_weights(model.get_weights())
    return inference


def _renumber_shared_ids(config: bytes) -> bytes:
    """Replace Keras' ``shared_object_id`` values (Python ``id()``s) by 1, 2, ..."""
    ids: dict[bytes, bytes] = {}

    def stable(match: re.Match[bytes]) -> bytes:
        return b'"shared_object_id": ' + ids.setdefault(match.group(1), b"%d" % (len(ids) + 1))

    return re.sub(rb'"shared_object_id": (\d+)', stable, config)


def save_keras_stable(model: Any, path: Path) -> Path:
    """Save a ``.keras`` file whose bytes depend only on the model: Keras stamps the save
    date and Python object ids into it, which are replaced here."""
    model.save(path)
    with zipfile.ZipFile(path) as zf:
        entries = {name: zf.read(name) for name in zf.namelist()}
    entries["config.json"] = _renumber_shared_ids(entries["config.json"])
    entries["metadata.json"] = re.sub(rb'"date_saved": "[^"]*"', b'"date_saved": "unset"', entries["metadata.json"])
    return write_stable_zip(path, entries)


def main(out_dir: Path = SAMPLE_DIR) -> dict[str, float]:
    """Train both models, write all digits files into ``out_dir``; returns held-out accuracies."""
    seed_everything()
    train, held, x, y = load_split()
    model = train_classifier(make_model(), x[train], y[train], TORCH_CFG)
    paths = save_torch_artifacts(model, torch.zeros(INPUT_SHAPE_NCHW), out_dir, "digits_cnn", state_dict=True)
    calib = train[calib_indices(len(train))]
    nhwc = x.transpose(0, 2, 3, 1).copy()
    paths += [
        save_npz(out_dir / "digits_eval.npz", x=x[held], y=y[held]),
        save_npz(out_dir / "digits_eval_nhwc.npz", x=nhwc[held], y=y[held]),
        save_npz(out_dir / "digits_calib.npz", x=x[calib]),
        save_npz(out_dir / "digits_calib_nhwc.npz", x=nhwc[calib]),
    ]
    keras_model = train_keras(nhwc[train], y[train])
    paths.append(save_keras_stable(keras_model, out_dir / "digits_cnn.keras"))
    metrics = {
        "torch_acc": accuracy(predict(model, x[held]), y[held]),
        "keras_acc": accuracy(np.asarray(keras_model.predict(nhwc[held], verbose=0)), y[held]),
    }
    report("digits", metrics, paths)
    return metrics


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=SAMPLE_DIR, help="output folder")
    main(parser.parse_args().out)
