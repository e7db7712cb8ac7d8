"""ONNX precisions with onnxruntime's quantizers, run and measured in onnxruntime."""

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from edge_kit.exporters.base import ExportOptions
from edge_kit.models import load_model
from edge_kit.recipes import get_recipe
from tests.conftest import convert_with, layers_of
from tests.quant.conftest import digits, quantize, sample


def _ops(path: Path) -> list[str]:
    return [n.op_type for n in onnx.load(str(path)).graph.node]


@pytest.mark.parametrize(
    "precision, recipe, op",
    [("fp16", "onnx_fp16", "Cast"), ("int8-dynamic", "onnx_int8_dynamic", "DynamicQuantizeLinear")],
)
def test_torch_source_at_fp16_and_int8_dynamic(out: Path, precision: str, recipe: str, op: str):
    result = quantize(sample("digits_cnn.pt2"), "onnx", precision, out, **digits(precision))
    manifest = result.manifest
    assert manifest["status"] == "ok" and manifest["quantization"]["recipe"] == recipe
    assert manifest["accuracy"]["drop"] <= 1.0 and op in _ops(result.artifact)


def test_onnx_source_int8_dynamic(tiny: dict, out: Path):
    result = quantize(tiny["cnn.onnx"], "onnx", "int8-dynamic", out, sample_inputs=tiny["inputs.npz"])
    assert "DynamicQuantizeLinear" in _ops(result.artifact)


def _scales(path: Path) -> list[float]:
    model = onnx.load(str(path))
    init = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    return [float(init[n.input[1]]) for n in model.graph.node if n.op_type == "QuantizeLinear"]


def test_calibration_methods_give_different_ranges(out: Path):
    scales = {}
    for method in ("minmax", "percentile", "entropy"):
        result = quantize(
            sample("digits_cnn.pt2"),
            "onnx",
            "int8",
            out / method,
            recipe=f"onnx_int8_static_qdq_per_channel_{method}",
            calibration=sample("digits_calib.npz"),
            calibration_samples=64,
        )
        scales[method] = _scales(result.artifact)
    assert scales["minmax"] != scales["entropy"] and scales["minmax"] != scales["percentile"]
    assert max(scales["percentile"]) <= max(scales["minmax"])


def test_layers_are_node_names_and_kept_nodes_stay_float(out: Path):
    source = load_model(sample("digits_cnn.pt2"))
    options = ExportOptions(
        precision="int8",
        recipe=get_recipe("onnx_int8_static_qdq_per_channel_minmax"),
        calibration=[[np.zeros((1, 1, 8, 8), np.float32)]],
        workdir=out,
    )
    layers = layers_of(source, "onnx", options)
    assert len(layers) == 4  # two convs, two linear layers
    options.keep_float = tuple(layers)
    convert_with(source, "onnx", out / "kept.onnx", options)
    graph = onnx.load(str(out / "kept.onnx")).graph
    weights = {n.input[1] for n in graph.node if n.name in layers}
    assert all(i.data_type == onnx.TensorProto.FLOAT for i in graph.initializer if i.name in weights)


def test_a_user_recipe_keeps_op_types_in_float(out: Path, monkeypatch: pytest.MonkeyPatch):
    from edge_kit.recipes import _load_all

    base = (Path(__file__).parents[2] / "quantize" / "onnx_int8_static_qdq_per_tensor_minmax.toml").read_text()
    folder = out / "recipes"
    folder.mkdir()
    (folder / "mine.toml").write_text(
        base.replace(
            'name = "onnx_int8_static_qdq_per_tensor_minmax"',
            'name = "onnx_int8_convs_only"\nkeep_float_ops = ["Gemm"]',
        )
    )
    monkeypatch.setenv("EDGEKIT_RECIPES_PATH", str(folder))
    _load_all.cache_clear()
    try:
        result = quantize(
            sample("digits_cnn.pt2"),
            "onnx",
            "int8",
            out,
            recipe="onnx_int8_convs_only",
            calibration=sample("digits_calib.npz"),
            calibration_samples=32,
        )
    finally:
        _load_all.cache_clear()
    graph = onnx.load(str(result.artifact)).graph
    float_weights = {i.name for i in graph.initializer if i.data_type == onnx.TensorProto.FLOAT and i.dims}
    assert all(n.input[1] in float_weights for n in graph.node if n.op_type == "Gemm")
    assert result.manifest["quantization"]["settings"]["keep_float_ops"] == ["Gemm"]
