from pathlib import Path

import numpy as np
import pytest

from edge_kit.errors import DataError
from edge_kit.exporters.onnx import OnnxRunner
from edge_kit.models import load_model
from edge_kit.validate import TOLERANCES, _align, _permutation, compare


def test_layout_permutations_are_found_both_ways():
    assert _permutation((1, 3, 8, 6), (1, 8, 6, 3)) == (0, 2, 3, 1)
    assert _permutation((1, 8, 6, 3), (1, 3, 8, 6)) == (0, 3, 1, 2)
    with pytest.raises(DataError):
        _permutation((1, 3, 8, 6), (1, 5, 5, 5))
    ref = np.arange(24.0).reshape(1, 2, 3, 4)
    aligned, moved = _align(ref, np.transpose(ref, (0, 2, 3, 1)))
    assert moved and np.array_equal(aligned, ref)


def test_a_perturbed_model_is_outside_tolerance(tiny: dict, tmp_path: Path):
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(tiny["cnn.onnx"]))
    weight = model.graph.initializer[0]
    weight.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(weight) * 1.01, weight.name))
    perturbed = tmp_path / "p.onnx"
    onnx.save(model, str(perturbed))
    source = load_model(tiny["cnn.onnx"])
    batches = [[np.random.default_rng(i).random((1, 1, 8, 8), dtype=np.float32)] for i in range(4)]
    ok = compare(source, OnnxRunner(tiny["cnn.onnx"]), batches, TOLERANCES["fp32"])
    assert ok.status == "ok" and ok.max_abs_diff == 0.0
    bad = compare(source, OnnxRunner(perturbed), batches, TOLERANCES["fp32"])
    assert bad.status == "mismatch" and "max abs difference" in bad.reasons[0]


def _scaled(path: Path, weights: np.ndarray) -> Path:
    """y = x * weights (a [1, 6] ONNX model)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [helper.make_node("Mul", ["x", "w"], ["y"])],
        path.stem,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 6])],
        [numpy_helper.from_array(weights.astype(np.float32), "w")],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=9), str(path))
    return path


@pytest.mark.parametrize(("scale", "status"), [(1e-6, "ok"), (1e-3, "mismatch")])
def test_outputs_within_the_absolute_tolerance_are_judged_on_their_difference(tmp_path: Path, scale, status):
    """Outputs of 1e-6 that differ by 30% in places are float noise at fp32's 1e-4 tolerance (PP-OCR's
    probability map on random input): ok, with a note; at 1e-3 the same pattern is a real mismatch."""
    pattern = np.array([1.0, 1.2, 0.8, 1.0, 1.3, 0.7])
    source = load_model(_scaled(tmp_path / "source.onnx", np.ones(6) * scale))
    runner = OnnxRunner(_scaled(tmp_path / "artifact.onnx", pattern * scale))
    batches = [[np.random.default_rng(i).random((1, 6), dtype=np.float32)] for i in range(3)]
    result = compare(source, runner, batches, TOLERANCES["fp32"])
    assert result.status == status and result.cosine_similarity < 0.99
    if status == "ok":
        assert "every sample: every reference value within the absolute tolerance" in result.notes[0]
        assert result.to_dict()["notes"] == list(result.notes)
    else:
        assert any("cosine similarity" in r for r in result.reasons) and "notes" not in result.to_dict()


def test_only_the_faint_samples_skip_the_cosine(tmp_path: Path):
    """Two samples of 1e-6 outputs and one of 1e-3: the loud one is judged, and fails."""
    pattern = np.array([1.0, 1.2, 0.8, 1.0, 1.3, 0.7])
    source = load_model(_scaled(tmp_path / "source.onnx", np.ones(6) * 1e-6))
    runner = OnnxRunner(_scaled(tmp_path / "artifact.onnx", pattern * 1e-6))
    x = np.random.default_rng(0).random((1, 6), dtype=np.float32)
    result = compare(source, runner, [[x], [x * 0.5], [x * 1000]], TOLERANCES["fp32"])
    assert result.status == "mismatch" and result.notes[0].startswith("2 of 3 samples")
    assert any("cosine similarity" in r for r in result.reasons)


@pytest.mark.parametrize(("second", "status"), [(0.999, "ok"), (0.9, "mismatch")])
def test_a_top1_flip_at_a_near_tie_counts_as_agreement(tmp_path: Path, second: float, status: str):
    """Class 1 scaled by 1.2 overtakes class 0: at a reference margin of 0.001 (0.1% of the logit range,
    a random-weight model's flat scores) that is a tie; at a margin of 0.1 (12.5%) it is a real flip."""
    source = load_model(_scaled(tmp_path / "source.onnx", np.ones(6)))
    runner = OnnxRunner(_scaled(tmp_path / "artifact.onnx", np.array([1.0, 1.2, 1.0, 1.0, 1.0, 1.0])))
    x = np.array([[1.0, second, 0.2, 0.3, 0.4, 0.5]], np.float32)
    result = compare(source, runner, [[x]], TOLERANCES["int8"])
    assert result.status == status and result.cosine_similarity > 0.95
    if status == "ok":
        assert result.top1_agreement == 1.0 and "1 top-1 disagreement(s) at a near tie" in result.notes[0]
    else:
        assert result.top1_agreement == 0.0 and any("top-1 agreement" in r for r in result.reasons)
