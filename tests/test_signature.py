import pytest

from edge_kit.errors import UsageError
from edge_kit.signature import TensorSpec, parse_shape, resolve_inputs


def test_parse_shape_accepts_commas_and_x():
    assert parse_shape("1,3,224,224") == (1, 3, 224, 224)
    assert parse_shape("1x8x8x1") == (1, 8, 8, 1)
    with pytest.raises(UsageError):
        parse_shape("a,b")


def test_declared_static_shapes_win_and_contradictions_are_refused():
    declared = [TensorSpec("x", (1, 3, 8, 8))]
    assert resolve_inputs(declared, [], [], "torch")[0].shape == (1, 3, 8, 8)
    with pytest.raises(UsageError, match="contradicts"):
        resolve_inputs(declared, [(1, 3, 16, 16)], [], "torch")


def test_dynamic_batch_defaults_to_one_but_other_dynamic_dims_need_a_shape():
    assert resolve_inputs([TensorSpec("x", (None, 8, 8, 1))], [], [], "tensorflow")[0].shape == (1, 8, 8, 1)
    with pytest.raises(UsageError, match="dynamic"):
        resolve_inputs([TensorSpec("x", (None, 3, None, None))], [], [], "onnx")
    assert resolve_inputs([TensorSpec("x", (None, 3, None, None))], [(1, 3, 32, 32)], [], "onnx")[0].shape == (
        1,
        3,
        32,
        32,
    )


def test_missing_zero_and_absurd_shapes_are_refused_before_allocation():
    with pytest.raises(UsageError, match="does not declare"):
        resolve_inputs(None, [], [], "torch")
    with pytest.raises(UsageError, match="zero"):
        resolve_inputs(None, [(1, 0, 8)], [], "torch")
    with pytest.raises(UsageError, match="above the limit"):
        resolve_inputs(None, [(1, 3, 100000, 100000)], [], "torch")


def test_layout_is_guessed_by_framework_convention():
    assert resolve_inputs(None, [(1, 3, 8, 8)], [], "torch")[0].layout == "NCHW"
    assert resolve_inputs(None, [(1, 8, 8, 3)], [], "tensorflow")[0].layout == "NHWC"
    assert resolve_inputs(None, [(1, 6, 100)], ["float32"], "torch")[0].layout == "NCW"
