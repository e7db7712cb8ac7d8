"""Every format from every source kind where the path exists, validated in its real runtime."""

from pathlib import Path

import pytest

from edge_kit.errors import UnsupportedError
from tests.exporters.conftest import export_ok

TORCH = [
    ("cnn.pt", {"input_shapes": [(1, 1, 8, 8)]}),
    ("cnn.pt2", {}),
    ("cnn_state.pt", {"input_shapes": [(1, 1, 8, 8)], "model_class": "tests.tiny_models:TinyCNN"}),
]
SUFFIX = {"tflite": ".tflite", "onnx": ".onnx", "executorch": ".pte", "ptl": ".ptl"}


@pytest.mark.parametrize("fmt", ["tflite", "onnx", "executorch", "ptl"])
@pytest.mark.parametrize("name, kwargs", TORCH, ids=[t[0] for t in TORCH])
def test_torch_sources_export_to_every_format(tiny: dict, out: Path, name: str, kwargs: dict, fmt: str):
    result = export_ok(tiny[name], fmt, out / f"m{SUFFIX[fmt]}", **kwargs)
    assert result.manifest["validation"]["max_abs_diff"] <= 1e-4
    assert result.manifest["validation"]["top1_agreement"] == 1.0


@pytest.mark.parametrize("fmt", ["tflite", "onnx"])
@pytest.mark.parametrize("name", ["cnn.keras", "cnn.h5", "cnn_sm"])
def test_tensorflow_sources_export_to_tflite_and_onnx(tiny: dict, out: Path, name: str, fmt: str):
    result = export_ok(tiny[name], fmt, out / f"m{SUFFIX[fmt]}")
    assert result.manifest["validation"]["max_abs_diff"] <= 1e-4
    assert result.manifest["inputs"][0]["shape"] == [1, 8, 8, 1]


@pytest.mark.parametrize("name, fmt", [("cnn.keras", "ptl"), ("cnn.onnx", "ptl")])
def test_impossible_paths_name_the_ones_that_exist(tiny: dict, out: Path, name: str, fmt: str):
    with pytest.raises(UnsupportedError, match="supported:"):
        export_ok(tiny[name], fmt, out / f"m{SUFFIX[fmt]}")
    assert list(out.iterdir()) == []


def test_onnx_legacy_exporter_and_opset(tiny: dict, out: Path):
    result = export_ok(
        tiny["cnn.pt"], "onnx", out / "legacy.onnx", input_shapes=[(1, 1, 8, 8)], route="torch-onnx-legacy", opset=17
    )
    assert result.manifest["artifact"]["opset"] == 17
    assert result.manifest["artifact"]["onnx_exporter"] == "legacy"
    assert result.manifest["artifact"]["route"] == "torch-onnx-legacy"


def test_executorch_portable_has_no_delegate(tiny: dict, out: Path):
    result = export_ok(tiny["cnn.pt2"], "executorch", out / "p.pte", portable=True)
    assert result.manifest["artifact"]["delegate"] is None


def test_sample_inputs_file_is_used_for_validation(tiny: dict, out: Path):
    result = export_ok(tiny["cnn.pt2"], "onnx", out / "m.onnx", sample_inputs=tiny["inputs.npz"])
    assert result.manifest["validation"]["samples"] == 4
