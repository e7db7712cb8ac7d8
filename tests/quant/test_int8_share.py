"""What is int8 in an int8 artifact: measured in the file, recorded, warned about, refused when nil."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge_kit.errors import ExportError
from edge_kit.quant.share import Int8Share, judge, size_ratio
from tests.quant.conftest import quantize, sample


def _share(manifest: dict) -> dict:
    return manifest["quantization"]["int8_share"]


def test_nothing_int8_is_an_export_error_naming_the_biggest_float_part():
    share = Int8Share()
    share.weight("MatMul w [512, 512]", "float32", 1 << 20)
    share.op("MatMul mm", 1000, int8=False)
    with pytest.raises(ExportError, match=r"nothing was quantized.*MatMul w \[512, 512\]") as info:
        judge(share, "int8", 1.0, "try X")
    assert info.value.exit_code == 5 and info.value.hint == "try X"
    [warning] = judge(share, "int8", 1.0, "try X", kept_float=True)  # an accuracy budget kept it all float
    assert "0% of its weight bytes" in warning


def test_a_low_share_or_a_big_artifact_is_a_warning():
    share = Int8Share()
    share.weight("conv w", "int8", 100_000)
    share.weight("EMBEDDING_LOOKUP table [4000, 64]", "float32", 1_024_000)
    [warning] = judge(share, "int8", 0.9, "pass Y")
    assert "9% of its weight bytes" in warning and "0.90x the fp32 size" in warning
    assert "EMBEDDING_LOOKUP table [4000, 64] (1,024,000 bytes)" in warning and warning.endswith("pass Y")
    share.weight("fc w", "int8", 10_000_000)
    assert judge(share, "int8", 0.3, "pass Y") == []


def test_the_fp32_size_is_measured_when_made_else_estimated_from_the_int8_bytes():
    share = Int8Share()
    share.weight("w", "int8", 1000)
    share.weight("b", "float32", 100)
    assert size_ratio(share, 1200, 4000) == {"ratio": 0.3, "fp32_bytes": 4000, "fp32": "measured"}
    estimated = size_ratio(share, 1200, None)
    assert estimated["fp32_bytes"] == 1200 + 3 * 1000 and estimated["fp32"].startswith("estimated")


def test_canonical_convolutions_from_torchscript():
    import torch

    from edge_kit.models.ts_export import module_from_torchscript

    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ConvTranspose2d(4, 2, 2, stride=2), torch.nn.ReLU()
    ).eval()
    x = torch.rand(1, 1, 8, 8)
    program = torch.export.export(module_from_torchscript(torch.jit.trace(model, x), (x,)), (x,))
    targets = [str(n.target) for n in program.graph.nodes if n.op == "call_function"]
    assert "aten.conv2d.default" in targets and "aten.conv_transpose2d.input" in targets
    assert not any("aten.convolution" in t for t in targets)
    assert torch.allclose(program.module()(x), model(x), atol=1e-6)


def test_torchscript_digits_to_executorch_int8_is_int8(out: Path):
    """TorchScript's aten.convolution went unquantized and its float weights stayed beside the int8 ones."""
    fp32 = quantize(sample("digits_cnn.pt"), "executorch", "fp32", out / "f")
    int8 = quantize(
        sample("digits_cnn.pt"),
        "executorch",
        "int8",
        out / "q",
        calibration=sample("digits_calib.npz"),
        calibration_samples=32,
    )
    assert int8.status == "ok"
    ratio = int8.artifact.stat().st_size / fp32.artifact.stat().st_size
    assert ratio <= 0.3, ratio
    share = _share(int8.manifest)
    assert share["weights"] >= 0.95 and share["macs"] >= 0.95, share
    assert share["largest_float_op"] is None and "int8_share" not in fp32.manifest.get("quantization", {})
    assert "shared_weights" not in fp32.manifest["artifact"]  # nothing tied, nothing to report


def _einsum_onnx(path: Path) -> Path:
    """An ONNX model whose only weight feeds an Einsum, an op ONNX Runtime's quantizers skip."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.random.default_rng(0).random((64, 64), dtype=np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("Einsum", ["x", "w"], ["y"], equation="bi,ij->bj")],
        "einsum",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64])],
        [weight],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=9), str(path))
    return path


def test_an_int8_export_that_quantized_nothing_fails_and_writes_nothing(out: Path):
    model = _einsum_onnx(out / "einsum.onnx")
    with pytest.raises(ExportError, match="nothing was quantized") as info:
        quantize(model, "onnx", "int8", out / "o", calibration="random", calibration_samples=4)
    assert info.value.exit_code == 5 and "Einsum w [64, 64]" in info.value.message
    assert not (out / "o").exists() or not any((out / "o").iterdir())


def test_an_int8_export_that_quantized_little_warns_on_stderr(out: Path, capsys: pytest.CaptureFixture):
    import torch

    class Scaled(torch.nn.Module):
        """A small conv, then a large float parameter no quantizer weights (an elementwise scale)."""

        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv2d(1, 8, 3, padding=1)
            self.scale = torch.nn.Parameter(torch.rand(1, 8, 64, 64))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.nn.functional.gelu(self.conv(x)) * self.scale

    x = torch.rand(1, 1, 64, 64)
    torch.export.save(torch.export.export(Scaled().eval(), (x,)), out / "scaled.pt2")
    result = quantize(out / "scaled.pt2", "onnx", "int8-dynamic", out / "o")
    share = _share(result.manifest)
    assert share["weights"] < 0.5 and "Mul" in share["largest_float"], share
    err = capsys.readouterr().err
    assert "int8-dynamic artifact quantized little" in err and "[1, 8, 64, 64]" in err
