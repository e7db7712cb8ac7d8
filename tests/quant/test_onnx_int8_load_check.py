"""ORT static int8 on real PP-OCR files: per-channel needs opset 13, every int8 model is loaded before it
is accepted, and one ORT cannot load is a conversion error (exit 5) naming the node, never exit 3."""

from __future__ import annotations

from pathlib import Path

import onnx
import onnxruntime as ort
import pytest

from edge_kit.errors import ExportError
from edge_kit.exporters import ExportOptions
from edge_kit.models import load_model
from edge_kit.quant import onnx as quant
from edge_kit.recipes import default_recipe
from edge_kit.signature import random_inputs
from tests.bridges.conftest import wheel_model
from tests.conftest import convert_with


def _int8(tmp_path: Path) -> tuple[Path, dict, Path]:
    path = wheel_model("ppocr-v2-cls")  # opset 11, weights in Constant nodes, BatchNormalization
    source = load_model(path, input_shapes=[(1, 3, 48, 192)])
    options = ExportOptions(
        precision="int8",
        recipe=default_recipe("onnx", "int8", "onnx"),
        calibration=random_inputs(source.inputs, 4, seed=2),
        workdir=tmp_path / "work",
    )
    options.workdir.mkdir()
    dest = tmp_path / "cls.int8.onnx"
    return dest, convert_with(source, "onnx", dest, options), path


def test_ppocr_per_channel_int8_loads_with_int8_weights(tmp_path: Path):
    dest, facts, source = _int8(tmp_path)
    assert facts["pre_process"] == {"used": "optimized", "failed": {}, "opset": "11 → 13 (per-channel weights)"}
    assert facts["opset"] == 13
    ort.InferenceSession(str(dest), providers=["CPUExecutionProvider"])
    model = onnx.load(str(dest))
    int8_weights = [i for i in model.graph.initializer if i.data_type == onnx.TensorProto.INT8 and len(i.dims) == 4]
    assert len(int8_weights) >= 50  # every conv's weights (53 convs)
    assert dest.stat().st_size < 0.7 * source.stat().st_size


def test_an_int8_model_ort_refuses_is_an_export_error_after_both_attempts(tmp_path: Path, monkeypatch):
    """Without the opset upgrade (the behaviour before it), both pre-process variants give per-channel
    DequantizeLinear nodes that opset 11 does not allow: real ORT refuses each one."""
    monkeypatch.setattr(quant, "PER_CHANNEL_OPSET", 0)
    with pytest.raises(ExportError) as caught:
        _int8(tmp_path)
    error = caught.value
    assert error.exit_code == 5 and "\n" not in error.one_line()
    assert "INVALID_GRAPH: node" in error.one_line() and "(DequantizeLinear)" in error.one_line()
    assert "Load model from" not in error.one_line()  # boilerplate dropped from the line ...
    assert "Load model from" in str(error.__cause__)  # ... the full text stays for --debug
    assert set(error.fields["attempts"]) == {"optimized", "unoptimized"}
    assert "ConvAddFusion" in error.fields["attempts"]["optimized"]  # the optimizer's fused node


def test_ort_reason_keeps_status_node_and_cause():
    text = (
        "[ONNXRuntimeError] : 10 : INVALID_GRAPH : Load model from /tmp/x/artifact.onnx failed:This is an "
        'invalid model. In Node, ("conv_DequantizeLinear", DequantizeLinear, "", -1) : ("a": tensor(int8),) '
        '-> ("b",) , Error Unrecognized attribute: axis for operator DequantizeLinear'
    )
    assert quant.ort_reason(RuntimeError(text)) == (
        "INVALID_GRAPH: node conv_DequantizeLinear (DequantizeLinear): "
        "Unrecognized attribute: axis for operator DequantizeLinear"
    )
    assert quant.ort_reason(RuntimeError("[ONNXRuntimeError] : 1 : FAIL : something else")) == "FAIL : something else"
