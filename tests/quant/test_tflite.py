"""TFLite precisions: converter flags for Keras, PT2E (litert-torch) and ai-edge-quantizer for torch."""

from pathlib import Path

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter

from edge_kit.exporters.base import ExportOptions
from edge_kit.models import load_model
from edge_kit.recipes import get_recipe
from tests.conftest import convert_with, layers_of
from tests.quant.conftest import digits, quantize, sample


def _ops(path: Path) -> list[str]:
    return [op["op_name"] for op in Interpreter(model_path=str(path))._get_ops_details()]


def _keras(precision: str) -> dict:
    extra = {"calibration": sample("digits_calib_nhwc.npz")} if precision == "int8" else {}
    return {"eval_data": sample("digits_eval_nhwc.npz"), **extra}


@pytest.mark.parametrize(
    "precision, recipe", [("fp16", "tflite_fp16_weights"), ("int8-dynamic", "tflite_int8_dynamic_range")]
)
def test_keras_at_fp16_and_int8_dynamic(out: Path, precision: str, recipe: str):
    result = quantize(sample("digits_cnn.keras"), "tflite", precision, out, **_keras(precision))
    assert result.status == "ok" and result.manifest["quantization"]["recipe"] == recipe
    assert result.manifest["accuracy"]["drop"] <= 1.0
    if precision == "fp16":
        assert "DEQUANTIZE" in _ops(result.artifact)


@pytest.mark.parametrize(
    "recipe, dtype", [("tflite_int8_full_integer_int8_io", "int8"), ("tflite_int8_full_integer_uint8_io", "uint8")]
)
def test_keras_full_integer_io_types(out: Path, recipe: str, dtype: str):
    result = quantize(sample("digits_cnn.keras"), "tflite", "int8", out, recipe=recipe, **_keras("int8"))
    assert result.manifest["inputs"][0]["dtype"] == dtype and "scale" in result.manifest["inputs"][0]
    assert result.manifest["accuracy"]["drop"] <= 1.0


@pytest.mark.parametrize(
    "precision, recipe", [("fp16", "litert_fp16_weights"), ("int8-dynamic", "litert_pt2e_int8_dynamic_per_channel")]
)
def test_torch_at_fp16_and_int8_dynamic(out: Path, precision: str, recipe: str):
    result = quantize(sample("digits_cnn.pt2"), "tflite", precision, out, **digits(precision))
    assert result.status == "ok" and result.manifest["quantization"]["recipe"] == recipe
    assert result.manifest["accuracy"]["drop"] <= 1.0
    assert result.manifest["artifact"]["size_bytes"] < 0.6 * sample("digits_cnn.pt2").stat().st_size


def _options(precision: str, recipe: str, calib: np.ndarray) -> ExportOptions:
    return ExportOptions(
        precision=precision, recipe=get_recipe(recipe), calibration=[[calib[i : i + 1]] for i in range(len(calib))]
    )


def test_keras_layers_kept_in_float_are_denylisted_tensors(out: Path):
    source = load_model(sample("digits_cnn.keras"))
    calib = np.load(sample("digits_calib_nhwc.npz"))["x"][:32]
    options = _options("int8", "tflite_int8_full_integer_float_io", calib)
    convert_with(source, "tflite", out / "all.tflite", options)
    layers = layers_of(source, "tflite", options)
    assert len(layers) == 4
    options.keep_float = (layers[-1],)
    convert_with(source, "tflite", out / "kept.tflite", options)
    # Intermediate tensor names are shortened in the written artifact: find the layers by op order.
    interpreter = Interpreter(model_path=str(out / "kept.tflite"))
    dtypes = {d["index"]: d["dtype"] for d in interpreter.get_tensor_details()}
    layer_ops = [op for op in interpreter._get_ops_details() if op["op_name"] in ("CONV_2D", "FULLY_CONNECTED")]
    assert dtypes[layer_ops[-1]["outputs"][0]] == np.float32 and dtypes[layer_ops[0]["outputs"][0]] == np.int8


def test_torch_layers_are_module_paths(out: Path):
    source = load_model(sample("digits_cnn.pt2"))
    calib = np.load(sample("digits_calib.npz"))["x"][:32]
    options = _options("int8", "litert_pt2e_int8_static_per_channel", calib)
    assert layers_of(source, "tflite", options) == ["0", "2", "6", "8"]
    options.keep_float = ("6",)
    convert_with(source, "tflite", out / "kept.tflite", options)
    convert_with(source, "tflite", out / "all.tflite", options.__class__(**{**options.__dict__, "keep_float": ()}))
    assert (out / "kept.tflite").stat().st_size > (out / "all.tflite").stat().st_size + 60_000  # 512x64 in fp32
