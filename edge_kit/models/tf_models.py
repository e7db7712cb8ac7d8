"""TensorFlow sources: Keras `.keras` / `.h5` files and SavedModel folders.

Keras files load with `safe_mode=True` (Lambda layers holding Python bytecode are
refused) unless the user passes the trust flag.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edge_kit.errors import ModelLoadError, TrustError
from edge_kit.models.base import SourceModel, flatten_outputs
from edge_kit.models.sniff import Kind
from edge_kit.signature import TensorSpec, guess_layout


def import_tf() -> Any:
    """Import TensorFlow quietly (its C++ logs go to stderr otherwise)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    return tf


def _spec(name: str, shape: Sequence[Any], dtype: Any) -> TensorSpec:
    dims = tuple(int(d) if d is not None else None for d in shape)
    return TensorSpec(
        name=name, shape=dims, dtype=str(getattr(dtype, "name", dtype)), layout=guess_layout(dims, "tensorflow")
    )


class KerasSource(SourceModel):
    """A Keras 3 model loaded from `.keras` or `.h5`."""

    framework = "tensorflow"

    def __init__(self, path: Path, kind: Kind, model: Any) -> None:
        super().__init__(path, kind)
        self.model = model

    def declared_inputs(self) -> list[TensorSpec]:
        return [_spec(t.name, t.shape, t.dtype) for t in self.model.inputs]

    def run(self, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
        args = list(arrays) if len(arrays) > 1 else arrays[0]
        return flatten_outputs(self.model(args, training=False))


class SavedModelSource(SourceModel):
    """A TensorFlow SavedModel folder, used through its `serving_default` signature."""

    framework = "tensorflow"

    def __init__(self, path: Path, loaded: Any) -> None:
        super().__init__(path, Kind.SAVED_MODEL)
        self.loaded = loaded
        self.signature = loaded.signatures["serving_default"]

    def input_names(self) -> list[str]:
        return list(self.signature.structured_input_signature[1])

    def declared_inputs(self) -> list[TensorSpec]:
        specs = self.signature.structured_input_signature[1]
        return [_spec(name, specs[name].shape, specs[name].dtype) for name in self.input_names()]

    def run(self, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
        tf = import_tf()
        result = self.signature(**{n: tf.constant(a) for n, a in zip(self.input_names(), arrays)})
        return [np.asarray(result[key]) for key in sorted(result)]


def load_tf(path: Path, kind: Kind, trust: bool) -> SourceModel:
    """Load a Keras file or SavedModel folder."""
    import_tf()
    if kind is Kind.SAVED_MODEL:
        tf = import_tf()
        try:
            loaded = tf.saved_model.load(str(path))
        except Exception as exc:  # noqa: BLE001 - TF raises many unrelated types on bad input
            raise ModelLoadError(
                f"cannot load SavedModel {path.name}: {str(exc).splitlines()[0][:160]}",
                hint="the folder may be damaged or from an incompatible TensorFlow",
            ) from None
        if "serving_default" not in loaded.signatures:
            raise ModelLoadError(
                f"SavedModel {path.name} has no 'serving_default' signature",
                hint="export it with model.export() or tf.saved_model.save(signatures=...)",
            )
        return SavedModelSource(path, loaded)
    import keras

    try:
        model = keras.models.load_model(str(path), compile=False, safe_mode=not trust)
    except ValueError as exc:
        if "safe_mode" in str(exc) or "lambda" in str(exc).lower():
            raise TrustError(
                f"{path.name} contains a Lambda layer whose Python code would run on load",
                hint="pass --trust-model if you trust its author",
            ) from None
        raise ModelLoadError(f"cannot load Keras model {path.name}: {str(exc).splitlines()[0][:160]}") from None
    except Exception as exc:  # noqa: BLE001 - h5py/zip/json errors on damaged files
        raise ModelLoadError(
            f"cannot load Keras model {path.name}: {str(exc).splitlines()[0][:160]}",
            hint="the file may be damaged or saved by an incompatible Keras",
        ) from None
    return KerasSource(path, kind, model)
