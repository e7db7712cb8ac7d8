"""Builders for keras.applications models with `weights=None` (random init, nothing downloaded),
saved as the `.keras` file edgekit takes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any


def keras_builder(name: str, input_shape: tuple[int, ...], **kwargs: Any) -> Callable[[Path], None]:
    """`keras.applications.<name>(weights=None, input_shape=...)` saved with `model.save`."""

    def build(path: Path) -> None:
        import os

        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import keras

        keras.utils.set_random_seed(0)
        model = getattr(keras.applications, name)(weights=None, input_shape=input_shape, **kwargs)
        model.save(str(path))

    return build
