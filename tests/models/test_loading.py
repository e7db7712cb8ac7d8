from pathlib import Path

import numpy as np
import pytest

from edge_kit.errors import ModelLoadError, TrustError, UsageError
from edge_kit.models import load_model

X = np.random.default_rng(0).random((1, 1, 8, 8), dtype=np.float32)


def test_torchscript_needs_a_shape_and_runs(tiny: dict):
    with pytest.raises(UsageError, match="does not declare its input shape"):
        load_model(tiny["cnn.pt"])
    source = load_model(tiny["cnn.pt"], input_shapes=[(1, 1, 8, 8)])
    assert source.run([X])[0].shape == (1, 10)


def test_exported_program_declares_its_signature(tiny: dict):
    source = load_model(tiny["cnn.pt2"])
    assert [s.shape for s in source.inputs] == [(1, 1, 8, 8)]


def test_state_dict_needs_a_model_class_and_loads_with_it(tiny: dict):
    with pytest.raises(UsageError, match="--model-class"):
        load_model(tiny["cnn_state.pt"], input_shapes=[(1, 1, 8, 8)])
    source = load_model(tiny["cnn_state.pt"], input_shapes=[(1, 1, 8, 8)], model_class="tests.tiny_models:TinyCNN")
    reference = load_model(tiny["cnn.pt"], input_shapes=[(1, 1, 8, 8)])
    np.testing.assert_allclose(source.run([X])[0], reference.run([X])[0], atol=1e-6)


def test_full_pickle_is_refused_unless_trusted(tiny: dict):
    with pytest.raises(TrustError, match="full pickle"):
        load_model(tiny["cnn_full.pt"], input_shapes=[(1, 1, 8, 8)])
    source = load_model(tiny["cnn_full.pt"], input_shapes=[(1, 1, 8, 8)], trust=True)
    assert source.run([X])[0].shape == (1, 10)


class _Payload:
    def __reduce__(self):
        import os

        return (os.mkdir, (str(Path(__file__).parent / "PWNED"),))


def test_malicious_pickle_does_not_run(tmp_path: Path):
    evil = tmp_path / "evil.pt"
    import torch

    torch.save({"w": _Payload()}, evil)
    marker = Path(__file__).parent / "PWNED"
    with pytest.raises(TrustError):
        load_model(evil, input_shapes=[(1, 1, 8, 8)])
    assert not marker.exists()


def test_keras_and_savedmodel_declare_nhwc_inputs(tiny: dict):
    for name in ("cnn.keras", "cnn.h5", "cnn_sm"):
        source = load_model(tiny[name])
        assert source.inputs[0].shape == (1, 8, 8, 1) and source.inputs[0].layout == "NHWC"


def test_onnx_source_and_broken_onnx(tiny: dict, tmp_path: Path):
    assert load_model(tiny["cnn.onnx"]).inputs[0].shape == (1, 1, 8, 8)
    import onnx

    model = onnx.load(str(tiny["cnn.onnx"]))
    del model.graph.initializer[0]
    broken = tmp_path / "broken.onnx"
    onnx.save(model, str(broken))
    with pytest.raises(ModelLoadError):
        load_model(broken)
