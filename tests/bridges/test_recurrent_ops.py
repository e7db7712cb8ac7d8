"""LSTM, constant-index Gather, Squeeze/Unsqueeze with axes inputs, and inputs given as constants
through the ONNX → torch bridge, checked against onnxruntime. silero-vad's ONNX model needs all of
them: an `If` on its sample-rate input around a graph with an LSTM fed from its `state` input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from edge_kit.bridges.onnx_to_torch import convert, max_abs_diff
from edge_kit.errors import ExportError
from edge_kit.signature import TensorSpec
from tests.bridges.test_reduce_pad_ops import _ints, _save

HIDDEN, FEATURES, SEQ = 4, 3, 5


def _floats(name: str, shape: tuple[int, ...], seed: int) -> object:
    return numpy_helper.from_array(np.random.default_rng(seed).normal(size=shape).astype(np.float32), name)


def _lstm(path: Path, direction: str, peepholes: bool = False) -> Path:
    """x[SEQ,1,FEATURES] and state[2,D,1,HIDDEN]: the initial h and c are gathered from `state`
    (a constant index), the LSTM's Y squeezed on its direction axis when there is one direction."""
    d = 2 if direction == "bidirectional" else 1
    nodes = [
        helper.make_node("Gather", ["state", "zero"], ["h0"], name="h0", axis=0),
        helper.make_node("Gather", ["state", "one"], ["c0"], name="c0", axis=0),
        helper.make_node(
            "LSTM",
            ["x", "W", "R", "B", "", "h0", "c0", "P" if peepholes else ""],
            ["y", "yh", "yc"],
            name="rnn/LSTM",
            hidden_size=HIDDEN,
            direction=direction,
        ),
        helper.make_node("Unsqueeze", ["yh", "zero_axes"], ["h1"], name="h1"),
        helper.make_node("Unsqueeze", ["yc", "zero_axes"], ["c1"], name="c1"),
        helper.make_node("Concat", ["h1", "c1"], ["state_out"], name="state_out", axis=0),
    ]
    inits = [
        _floats("W", (d, 4 * HIDDEN, FEATURES), 1),
        _floats("R", (d, 4 * HIDDEN, HIDDEN), 2),
        _floats("B", (d, 8 * HIDDEN), 3),
        _floats("P", (d, 3 * HIDDEN), 4),
        numpy_helper.from_array(np.array(0, np.int64), "zero"),
        numpy_helper.from_array(np.array(1, np.int64), "one"),
        _ints("zero_axes", [0]),
    ]
    outputs = [("y", [SEQ, d, 1, HIDDEN]), ("state_out", [2, d, 1, HIDDEN])]
    if d == 1:
        nodes.append(helper.make_node("Squeeze", ["y", "one_axis"], ["y1"], name="y/Squeeze"))
        inits.append(_ints("one_axis", [1]))
        outputs[0] = ("y1", [SEQ, 1, HIDDEN])
    inputs = [
        helper.make_tensor_value_info("x", TensorProto.FLOAT, [SEQ, 1, FEATURES]),
        helper.make_tensor_value_info("state", TensorProto.FLOAT, [2, d, 1, HIDDEN]),
    ]
    outs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in outputs]
    return _save(path, nodes, inputs, outs, inits, 14)


@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
def test_lstm_with_states_from_an_input_matches_onnxruntime(tmp_path: Path, direction: str) -> None:
    path = _lstm(tmp_path / f"{direction}.onnx", direction)
    d = 2 if direction == "bidirectional" else 1
    specs = [TensorSpec("x", (SEQ, 1, FEATURES)), TensorSpec("state", (2, d, 1, HIDDEN))]
    result = convert(path, specs)
    diffs = max_abs_diff(path, result.program, specs)
    assert len(diffs) == 2 and max(diffs) < 1e-5, diffs
    ops = {str(n.target) for n in result.program.graph.nodes if n.op == "call_function"}
    assert not any("_local_scalar_dense" in op for op in ops)  # indices and axes are Python constants


def test_lstm_with_peepholes_is_refused_naming_the_node(tmp_path: Path) -> None:
    path = _lstm(tmp_path / "peep.onnx", "forward", peepholes=True)
    with pytest.raises(ExportError) as caught:
        convert(path, [TensorSpec("x", (SEQ, 1, FEATURES)), TensorSpec("state", (2, 1, 1, HIDDEN))])
    line = caught.value.one_line()
    assert "convert failed at LSTM node 'rnn/LSTM'" in line and "LSTM with peepholes" in line


def _branch_on_rate(path: Path) -> Path:
    """y = x * 2 when sr == 16000 else x + 1, inside an `If` on the `sr` input (as silero-vad)."""
    then = helper.make_graph(
        [helper.make_node("Mul", ["x", "two"], ["t"], name="then/Mul")],
        "then",
        [],
        [helper.make_tensor_value_info("t", TensorProto.FLOAT, [1, 6])],
        [numpy_helper.from_array(np.array(2.0, np.float32), "two")],
    )
    other = helper.make_graph(
        [helper.make_node("Add", ["x", "one"], ["e"], name="else/Add")],
        "else",
        [],
        [helper.make_tensor_value_info("e", TensorProto.FLOAT, [1, 6])],
        [numpy_helper.from_array(np.array(1.0, np.float32), "one")],
    )
    nodes = [
        helper.make_node("Equal", ["sr", "rate"], ["is16k"], name="Equal"),
        helper.make_node("If", ["is16k"], ["y"], name="If_0", then_branch=then, else_branch=other),
    ]
    inputs = [
        helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 6]),
        helper.make_tensor_value_info("sr", TensorProto.INT64, []),
    ]
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 6])]
    inits = [numpy_helper.from_array(np.array(16000, np.int64), "rate")]
    return _save(path, nodes, inputs, outputs, inits, 14)


@pytest.mark.parametrize("rate", [16000, 8000])
def test_an_input_given_as_a_constant_folds_the_branch_on_it(tmp_path: Path, rate: int) -> None:
    path = _branch_on_rate(tmp_path / "rate.onnx")
    specs = [TensorSpec("x", (1, 6)), TensorSpec("sr", (), "int64", kind="const", value=float(rate))]
    result = convert(path, specs)
    assert max_abs_diff(path, result.program, specs) == [0.0]
    assert len(result.program.graph_signature.user_inputs) == 2  # the artifact still takes `sr`
    assert any("given as constants" in note for note in result.notes)
    x = np.arange(6, dtype=np.float32).reshape(1, 6)
    import torch

    (y,) = [result.program.module()(torch.from_numpy(x), torch.tensor(rate)).numpy()]
    assert np.array_equal(y, x * 2 if rate == 16000 else x + 1)
