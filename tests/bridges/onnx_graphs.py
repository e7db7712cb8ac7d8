"""Small ONNX graphs built in the test, each with the pattern that broke a real model.

- `shapes_and_constants`: weights in Constant nodes (PP-OCR's Paddle exports: onnx2torch's KeyError),
  a hard-swish with scalar constants, a nearest Resize with constant scales (YOLOv8's neck: a
  data-dependent guard in torch.export), a Slice and a Split with constant inputs, a Reshape whose
  shape is computed from Shape (folded by clean-up); declared with a dynamic batch.
- `with_op(op)`: one op onnx2torch has no converter for (GRU) or whose converter fails at export.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def _const(name: str, value: np.ndarray) -> onnx.NodeProto:
    return helper.make_node("Constant", [], [name], name=f"const_{name}", value=numpy_helper.from_array(value, name))


def shapes_and_constants(path: Path, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    f32 = np.float32
    nodes = [
        _const("w", rng.normal(0, 0.3, (8, 3, 3, 3)).astype(f32)),
        _const("b", rng.normal(0, 0.1, (8,)).astype(f32)),
        _const("three", np.array(3.0, f32)),
        _const("six", np.array(6.0, f32)),
        _const("zero", np.array(0.0, f32)),
        helper.make_node("Conv", ["x", "w", "b"], ["conv"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["conv", "three"], ["plus3"], name="hs_add"),
        helper.make_node("Clip", ["plus3", "zero", "six"], ["clip"], name="hs_clip"),
        helper.make_node("Mul", ["conv", "clip"], ["mul"], name="hs_mul"),
        helper.make_node("Div", ["mul", "six"], ["hswish"], name="hs_div"),
        helper.make_node(
            "Resize",
            ["hswish", "", "scales"],
            ["up"],
            name="up",
            mode="nearest",
            coordinate_transformation_mode="asymmetric",
            nearest_mode="floor",
        ),
        helper.make_node("Slice", ["up", "starts", "ends", "axes"], ["cut"], name="cut"),
        helper.make_node("Split", ["cut", "split"], ["a", "b2"], name="split", axis=1),
        helper.make_node("Mul", ["a", "a"], ["a2"], name="square"),
        helper.make_node("Concat", ["a2", "b2"], ["cat"], name="cat", axis=1),
        helper.make_node("Shape", ["cat"], ["shape"], name="shape"),
        helper.make_node("Slice", ["shape", "s0", "s2"], ["nc"], name="shape_nc"),
        helper.make_node("Concat", ["nc", "minus1"], ["target"], name="target", axis=0),
        helper.make_node("Reshape", ["cat", "target"], ["y"], name="flatten"),
    ]
    inits = [
        numpy_helper.from_array(np.array([1, 1, 2, 2], f32), "scales"),
        numpy_helper.from_array(np.array([1, 2], np.int64), "starts"),
        numpy_helper.from_array(np.array([-1, 30], np.int64), "ends"),
        numpy_helper.from_array(np.array([2, 3], np.int64), "axes"),
        numpy_helper.from_array(np.array([3, 5], np.int64), "split"),
        numpy_helper.from_array(np.array([0], np.int64), "s0"),
        numpy_helper.from_array(np.array([2], np.int64), "s2"),
        numpy_helper.from_array(np.array([-1], np.int64), "minus1"),
    ]
    graph = helper.make_graph(
        nodes,
        "shapes_and_constants",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 16, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", "c", "hw"])],
        inits,
    )
    return _save(graph, path)


def with_gru(path: Path) -> Path:
    """Relu → GRU: neither onnx2torch nor edgekit converts GRU (LSTM is tests/bridges/test_recurrent_ops.py)."""
    rng = np.random.default_rng(1)
    hidden = 4
    inits = [
        numpy_helper.from_array(rng.normal(size=(1, 3 * hidden, 6)).astype(np.float32), "W"),
        numpy_helper.from_array(rng.normal(size=(1, 3 * hidden, hidden)).astype(np.float32), "R"),
    ]
    nodes = [
        helper.make_node("Relu", ["x"], ["r"], name="relu"),
        helper.make_node("GRU", ["r", "W", "R"], ["y"], name="decoder/rnn/GRU", hidden_size=hidden),
    ]
    graph = helper.make_graph(
        nodes,
        "gru",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [5, 1, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [5, 1, 1, 4])],
        inits,
    )
    return _save(graph, path)


def with_nms(path: Path) -> Path:
    """A NonMaxSuppression head: onnx2torch converts it, then it needs torchvision (and data-dependent sizes)."""
    inits = [
        numpy_helper.from_array(np.array([2], np.int64), "max_out"),
        numpy_helper.from_array(np.array([0.5], np.float32), "iou"),
    ]
    nodes = [
        helper.make_node("Sigmoid", ["scores_in"], ["scores"], name="scores"),
        helper.make_node("NonMaxSuppression", ["boxes", "scores", "max_out", "iou"], ["keep"], name="head/nms"),
    ]
    graph = helper.make_graph(
        nodes,
        "nms",
        [
            helper.make_tensor_value_info("boxes", TensorProto.FLOAT, [1, 6, 4]),
            helper.make_tensor_value_info("scores_in", TensorProto.FLOAT, [1, 1, 6]),
        ],
        [helper.make_tensor_value_info("keep", TensorProto.INT64, ["k", 3])],
        inits,
    )
    return _save(graph, path)


def _save(graph: onnx.GraphProto, path: Path) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="edgekit-tests")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path
