"""Reduce* with `axes` as an input (opset 18+) and Pad in every mode through the ONNX → torch bridge,
checked against onnxruntime. tf2onnx writes these for Keras' GlobalAveragePooling / ZeroPadding2D
and TFLite's MirrorPad (keras-resnet50, mediapipe-face-detection, basic-pitch in the zoo)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edge_kit.bridges.onnx_to_torch import convert, max_abs_diff
from edge_kit.errors import ExportError
from edge_kit.signature import TensorSpec


def _ints(name: str, values: list[int]) -> onnx.TensorProto:
    return numpy_helper.from_array(np.array(values, np.int64), name)


def _save(path: Path, nodes: list, inputs: list, outputs: list, inits: list, opset: int) -> Path:
    graph = helper.make_graph(nodes, path.stem, inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="edgekit-tests")
    model.ir_version = 9
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def _nhwc_head(path: Path, opset: int) -> Path:
    """NHWC x[1,6,7,5]: reflect pad of H/W (pads and axes inputs), edge pad from a Constant node,
    constant pad with a value and a crop, wrap pad (19+), then reductions with axes as inputs."""
    pads_edge = helper.make_node("Constant", [], ["pads_edge"], value=_ints("v", [0, 1, 0, 0, 0, 0, 2, 0]))
    nodes = [
        helper.make_node("Pad", ["x", "pads_reflect", "", "hw"], ["p1"], name="mirror_pad", mode="reflect"),
        pads_edge,
        helper.make_node("Pad", ["p1", "pads_edge"], ["p2"], name="edge_pad", mode="edge"),
        helper.make_node("Pad", ["p2", "pads_const", "half"], ["p3"], name="zero_pad", mode="constant"),
    ]
    last, width = "p3", 12
    if opset >= 19:
        nodes.append(helper.make_node("Pad", ["p3", "pads_wrap", "", "w"], ["p4"], name="wrap_pad", mode="wrap"))
        last, width = "p4", 15
    nodes += [
        helper.make_node("ReduceMean", [last, "hw"], ["mean"], name="gap/Mean", keepdims=0),
        helper.make_node("ReduceMax", [last, "minus1"], ["max"], name="max"),
        helper.make_node("ReduceL2", [last], ["l2"], name="l2", keepdims=0),
        helper.make_node("ReduceProd", ["x", "prod_axes"], ["prod"], name="prod", keepdims=0),
    ]
    inits = [
        _ints("pads_reflect", [2, 1, 1, 3]),
        _ints("hw", [1, 2]),
        _ints("pads_const", [0, 1, -1, 0, 0, 0, 2, 1]),
        numpy_helper.from_array(np.array(0.5, np.float32), "half"),
        _ints("pads_wrap", [2, 1]),
        _ints("w", [-2]),
        _ints("minus1", [-1]),
        _ints("prod_axes", [3, 1]),
    ]
    shapes = {"mean": [1, 6], "max": [1, 13, width, 1], "l2": [], "prod": [1, 7]}
    outputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, shape) for n, shape in shapes.items()]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 6, 7, 5])]
    return _save(path, nodes, inputs, outputs, inits, opset)


def _mirror_pad_1d(path: Path) -> Path:
    """Pad-13 reflect on the last axis of [1,4,9] (basic-pitch's reflection_pad1d via tf2onnx)."""
    nodes = [helper.make_node("Pad", ["x", "pads"], ["y"], name="reflection_pad1d/MirrorPad", mode="reflect")]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 9])]
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 16])]
    return _save(path, nodes, inputs, outputs, [_ints("pads", [0, 0, 3, 0, 0, 4])], 13)


def _computed_pads(path: Path) -> Path:
    """Pad whose pads come from the input's values (ArgMax): nothing can fold them to constants."""
    nodes = [
        helper.make_node("ArgMax", ["x"], ["where"], name="argmax", axis=1, keepdims=0),
        helper.make_node("Concat", ["zeros", "where", "zeros", "where"], ["pads"], name="pads", axis=0),
        helper.make_node("Pad", ["x", "pads"], ["y"], name="data/Pad", mode="constant"),
    ]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])]
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, "n"])]
    return _save(path, nodes, inputs, outputs, [_ints("zeros", [0])], 18)


@pytest.mark.parametrize("opset", [18, 19])
def test_reductions_and_pads_with_constant_inputs_match_onnxruntime(tmp_path, opset):
    path = _nhwc_head(tmp_path / f"head{opset}.onnx", opset)
    specs = [TensorSpec("x", (1, 6, 7, 5))]
    result = convert(path, specs)
    diffs = max_abs_diff(path, result.program, specs)
    assert len(diffs) == 4 and max(diffs) < 1e-4, diffs
    ops = {str(n.target) for n in result.program.graph.nodes if n.op == "call_function"}
    assert not any("_local_scalar_dense" in op for op in ops)  # pads/axes are Python constants


def test_opset13_reflect_pad_exports_without_reading_pads_at_run_time(tmp_path):
    path = _mirror_pad_1d(tmp_path / "mirror.onnx")
    specs = [TensorSpec("x", (1, 4, 9))]
    result = convert(path, specs)  # onnx2torch's own Pad-13 read pads with .tolist(): export failed
    assert max(max_abs_diff(path, result.program, specs)) == 0.0


def test_computed_pads_fail_at_convert_naming_the_node(tmp_path):
    path = _computed_pads(tmp_path / "computed.onnx")
    with pytest.raises(ExportError) as caught:
        convert(path, [TensorSpec("x", (1, 3))])
    line = caught.value.one_line()
    assert "\n" not in line and "convert failed at Pad node 'data/Pad'" in line
    assert "Pad with computed pads ('pads'): only constant pads convert" in line
