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
