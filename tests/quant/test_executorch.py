"""ExecuTorch precisions: fp16 and PT2E int8 with the XNNPACK quantizer, lowered to XNNPACK."""

from pathlib import Path

import numpy as np
import pytest

from edge_kit.errors import UnsupportedError
from edge_kit.exporters.base import ExportOptions
from edge_kit.models import load_model
from edge_kit.recipes import get_recipe
from tests.conftest import convert_with, layers_of
from tests.quant.conftest import digits, quantize, sample


@pytest.mark.parametrize(
    "precision, recipe", [("fp16", "xnnpack_fp16"), ("int8-dynamic", "xnnpack_pt2e_int8_dynamic_per_channel")]
)
def test_torch_at_fp16_and_int8_dynamic(out: Path, precision: str, recipe: str):
    result = quantize(sample("digits_cnn.pt2"), "executorch", precision, out, **digits(precision))
    manifest = result.manifest
    assert manifest["status"] == "ok" and manifest["quantization"]["recipe"] == recipe
    assert manifest["artifact"]["delegate"] == "xnnpack" and manifest["accuracy"]["drop"] <= 1.0


def test_a_model_the_quantizer_finds_nothing_in_is_refused(out: Path):
    import torch

    model = torch.nn.Sequential(torch.nn.ReLU(), torch.nn.AdaptiveMaxPool2d(1), torch.nn.Flatten()).eval()
    torch.export.save(torch.export.export(model, (torch.rand(1, 3, 4, 4),)), out / "pool.pt2")
    with pytest.raises(UnsupportedError, match="found no layer it can quantize"):
        quantize(out / "pool.pt2", "executorch", "int8-dynamic", out / "o")
    assert [p.name for p in out.rglob("*") if p.is_file()] == ["pool.pt2"]


def test_layers_kept_in_float_keep_their_float_weights(out: Path):
    source = load_model(sample("digits_cnn.pt2"))
    calib = np.load(sample("digits_calib.npz"))["x"][:32]
    options = ExportOptions(
        precision="int8",
        recipe=get_recipe("xnnpack_pt2e_int8_static_per_tensor"),
        calibration=[[calib[i : i + 1]] for i in range(len(calib))],
    )
    assert layers_of(source, "executorch", options) == ["0", "2", "6", "8"]
    convert_with(source, "executorch", out / "all.pte", options)
    options.keep_float = ("6",)
    convert_with(source, "executorch", out / "kept.pte", options)
    assert (out / "kept.pte").stat().st_size > (out / "all.pte").stat().st_size + 60_000  # 512x64 in fp32


def test_portable_int8_is_refused_before_anything_is_written(out: Path):
    with pytest.raises(UnsupportedError, match="portable ExecuTorch"):
        quantize(
            sample("digits_cnn.pt2"), "executorch", "int8", out, portable=True, calibration=sample("digits_calib.npz")
        )
    assert list(out.iterdir()) == []
