"""TensorFlow sources: Keras `.keras` / `.h5` files and SavedModel folders.

Keras files load with `safe_mode=True` (Lambda layers holding Python bytecode are
refused) unless the user passes the trust flag.
"""

from __future__ import annotations

import os
from abc import abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edge_kit.errors import ModelLoadError, TrustError
from edge_kit.models.base import LoadOptions, SourceModel, digest_arrays, flatten_outputs
from edge_kit.models.sniff import Kind
from edge_kit.signature import TensorSpec, guess_layout, static_size

if TYPE_CHECKING:
    from edge_kit.registry import Registry


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


class TensorFlowSource(SourceModel):
    """A TensorFlow model: what the TFLite and ONNX routes need from any of them."""

    framework = "tensorflow"

    @abstractmethod
    def tflite_converter(self) -> Any:
        """A `tf.lite.TFLiteConverter` for this model."""

    @abstractmethod
    def call(self, *args: Any) -> Any:
        """The model as a function of its input tensors (traced by tf.function)."""

    def tf_input_specs(self) -> list[Any]:
        """`tf.TensorSpec`s of this export's concrete inputs."""
        tf = import_tf()
        return [tf.TensorSpec([static_size(d) for d in s.shape], s.dtype, name=s.name) for s in self.inputs]

    def concrete_function(self) -> Any:
        """The model traced at this export's fixed input shapes."""
        tf = import_tf()
        return tf.function(self.call, input_signature=self.tf_input_specs()).get_concrete_function()


class KerasSource(TensorFlowSource):
    """A Keras 3 model, loaded from `.keras` / `.h5` or handed over live."""

    def __init__(self, path: Path | None, kind: str, model: Any) -> None:
        super().__init__(path, kind)
        self.model = model

    def declared_inputs(self) -> list[TensorSpec]:
        return [_spec(t.name, t.shape, t.dtype) for t in self.model.inputs]

    def run(self, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
        args = list(arrays) if len(arrays) > 1 else arrays[0]
        return flatten_outputs(self.model(args, training=False))

    def call(self, *args: Any) -> Any:
        return self.model(list(args) if len(args) > 1 else args[0], training=False)

    def tflite_converter(self) -> Any:
        return import_tf().lite.TFLiteConverter.from_keras_model(self.model)

    def weights_digest(self) -> str | None:
        return digest_arrays([np.asarray(w) for w in self.model.get_weights()])


class SavedModelSource(TensorFlowSource):
    """A TensorFlow SavedModel folder, used through its `serving_default` signature."""

    def __init__(self, path: Path, loaded: Any, load_path: Path | None = None) -> None:
        super().__init__(path, Kind.SAVED_MODEL)
        self.loaded = loaded
        self.signature = loaded.signatures["serving_default"]
        self.load_path = load_path or path  # the folder converters read (training state stripped)

    def input_names(self) -> list[str]:
        return list(self.signature.structured_input_signature[1])

    def declared_inputs(self) -> list[TensorSpec]:
        specs = self.signature.structured_input_signature[1]
        return [_spec(name, specs[name].shape, specs[name].dtype) for name in self.input_names()]

    @property
    def output_names(self) -> list[str]:
        """The signature's output keys, in the order `run` returns them."""
        return sorted(self.signature.structured_outputs)

    def run(self, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
        tf = import_tf()
        result = self.signature(**{n: tf.constant(a) for n, a in zip(self.input_names(), arrays)})
        return [np.asarray(result[key]) for key in sorted(result)]

    def call(self, *args: Any) -> Any:
        return self.signature(**dict(zip(self.input_names(), args)))

    def tflite_converter(self) -> Any:
        assert self.path is not None
        return import_tf().lite.TFLiteConverter.from_saved_model(str(self.load_path))


def without_optimizer_slots(path: Path) -> Path:
    """A copy of the SavedModel at `path` whose object graph has no optimizer slot variables (its
    variables and assets linked, not copied). A Keras 2 model saved with its optimizer revives
    that optimizer as a plain object TensorFlow 2.6+ cannot give slots to ('_UserObject' object
    has no attribute 'add_slot', tensorflow#52091); the slots are training state, never inference."""
    import atexit
    import shutil
    import tempfile

    from tensorflow.core.protobuf import saved_model_pb2

    saved = saved_model_pb2.SavedModel()
    saved.ParseFromString((path / "saved_model.pb").read_bytes())
    for meta in saved.meta_graphs:
        for node in meta.object_graph_def.nodes:
            del node.slot_variables[:]
    folder = Path(tempfile.mkdtemp(prefix="edgekit-savedmodel-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    (folder / "saved_model.pb").write_bytes(saved.SerializeToString())
    for name in ("variables", "assets", "assets.extra"):
        if (path / name).exists():
            (folder / name).symlink_to((path / name).resolve())
    return folder


def _load_saved_model(path: Path) -> SavedModelSource:
    tf = import_tf()
    load_path = path
    try:
        try:
            loaded = tf.saved_model.load(str(path))
        except AttributeError as exc:
            if "add_slot" not in str(exc):
                raise
            load_path = without_optimizer_slots(path)
            logger, level = tf.get_logger(), tf.get_logger().level
            logger.setLevel("ERROR")  # one warning per optimizer state left unrestored, by design
            try:
                loaded = tf.saved_model.load(str(load_path))
            finally:
                logger.setLevel(level)
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
    return SavedModelSource(path, loaded, load_path)


def load_tf(path: Path, kind: Kind, trust: bool) -> TensorFlowSource:
    """Load a Keras file or SavedModel folder."""
    import_tf()
    if kind is Kind.SAVED_MODEL:
        return _load_saved_model(path)
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


def _is_keras(obj: Any) -> bool:
    import sys

    keras = sys.modules.get("keras")
    return keras is not None and isinstance(obj, keras.Model)


def _wrap_keras(obj: Any, options: LoadOptions) -> KerasSource:
    return KerasSource(None, Kind.KERAS, obj)


def register(registry: Registry) -> None:
    from edge_kit.registry import SourceType

    for kind, what in ((Kind.KERAS, "Keras .keras"), (Kind.KERAS_H5, "Keras .h5"), (Kind.SAVED_MODEL, "SavedModel")):

        def load(path: Path, options: LoadOptions, kind: Kind = kind) -> TensorFlowSource:
            return load_tf(path, kind, options.trust)

        registry.add_source(
            SourceType(
                kind.value,
                "tensorflow",
                what,
                load=load,
                accepts=_is_keras if kind is Kind.KERAS else None,
                wrap=_wrap_keras if kind is Kind.KERAS else None,
            )
        )
