"""SavedModels saved with their optimizer's slots (basic-pitch's Keras 2 model in its wheel):
TensorFlow cannot revive them (tensorflow#52091); edgekit loads them without the training state."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from edge_kit.models import load_model
from tests.conftest import run_cli


@pytest.fixture(scope="module")
def with_slots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """y = x @ w, saved after one Adam step: the object graph holds Adam's m and v slots for w."""
    from edge_kit.models.tf_models import import_tf

    tf = import_tf()

    class Linear(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = tf.Variable(np.arange(8, dtype=np.float32).reshape(4, 2))
            self.optimizer = tf.compat.v1.train.AdamOptimizer(0.1)

        @tf.function(input_signature=[tf.TensorSpec([1, 4], tf.float32, name="x")])
        def __call__(self, x):  # a TF signature: x is a tf.Tensor
            return {"y": tf.matmul(x, self.w)}

    model = Linear()
    model.optimizer.minimize(lambda: tf.reduce_sum(model.w * 2.0), var_list=[model.w])
    path = tmp_path_factory.mktemp("slots") / "linear"
    tf.saved_model.save(model, str(path), signatures=model.__call__)
    with pytest.raises(AttributeError, match="add_slot"):
        tf.saved_model.load(str(path))  # what users hit, and what the raw converters hit
    return path


def test_a_savedmodel_with_optimizer_slots_loads_without_them(with_slots: Path) -> None:
    source = load_model(with_slots)
    assert source.load_path != with_slots and (source.load_path / "variables").is_symlink()
    x = np.ones((1, 4), np.float32)
    (y,) = source.run([x])
    trained = np.arange(8, dtype=np.float32).reshape(4, 2) - 0.1  # Adam's first step moves each weight by lr
    assert np.allclose(y, x @ trained)  # the restored variables, not the initial ones


def _basic_pitch() -> Path:
    spec = importlib.util.find_spec("basic_pitch")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("basic-pitch is not installed (make zoo-deps)")
    return Path(next(iter(spec.submodule_search_locations))) / "saved_models/icassp_2022/nmp"


def test_basic_pitch_exports_to_tflite_with_its_outputs_matched_by_name(tmp_path: Path) -> None:
    """basic-pitch's Keras 2 SavedModel (optimizer slots saved with it): the TFLite converter emits
    its three outputs (contour, note, onset) in another order; validation pairs them by name."""
    spec = ["--input-spec", "input_2=1,43844,1:float32:-1..1"]
    result = run_cli("export", _basic_pitch(), "-f", "tflite", *spec, "-o", tmp_path / "bp.tflite", "--json")
    assert result.code == 0, result.stderr[-2000:]
    manifest = json.loads(result.stdout)
    assert manifest["validation"]["status"] == "ok" and manifest["validation"]["max_abs_diff"] < 1e-3
    assert sorted(o["shape"][2] for o in manifest["outputs"]) == [88, 88, 264]  # in the converter's order
    assert "could not be found in the restored object" not in result.stderr
