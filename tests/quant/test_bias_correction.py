"""Weight bias correction: the int8 weight grid's mean output shift is measured and undone, on the
layers that will be quantized only (kept-in-float layers stay as they were, in every format)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from edge_kit.exporters.base import ExportOptions
from edge_kit.pipeline import ExportRequest, export
from edge_kit.quant import bias_correction, pt2e
from edge_kit.quant.bias_correction import corrected, measure, restore_excluded
from tests.tiny_models import DepthwiseGate, image_batches

X = torch.rand(1, 1, 8, 8)


@pytest.fixture(scope="module")
def program() -> torch.export.ExportedProgram:
    torch.manual_seed(0)
    return torch.export.export(DepthwiseGate().eval(), (X,))


def test_every_layer_with_a_bias_or_batchnorm_is_measured(program):
    found = {c.path: c.param for c in measure(program, image_batches(8, 0), "executorch")}
    assert found == {
        "expand.0": "expand.1.bias",
        "depthwise.0": "depthwise.1.bias",
        "project": "project.bias",
        "fc": "fc.bias",
    }


def test_corrected_int8_weights_leave_no_mean_shift():
    """conv+BN with int8 weights: the per-channel mean error of the output vanishes once corrected."""
    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1, bias=False), torch.nn.BatchNorm2d(8)).eval()
    with torch.no_grad():
        model[1].running_var.uniform_(0.5, 2.0)
        model[1].weight.uniform_(0.5, 2.0)
    program = torch.export.export(model, (X,))
    fixed, done = corrected(program, measure(program, image_batches(32, 2), "executorch"), lambda node: True)
    assert done == 1

    def int8_weights_output(p: torch.export.ExportedProgram, x: torch.Tensor) -> torch.Tensor:
        state = p.state_dict
        fold = state["1.weight"] / torch.sqrt(model[1].running_var + model[1].eps)
        weight = state["0.weight"] * fold.reshape(-1, 1, 1, 1)
        weight = weight + bias_correction._grid_error(weight, 2**-12)
        bias = state["1.bias"] - model[1].running_mean * fold
        return torch.nn.functional.conv2d(x, weight, bias, padding=1)

    x = torch.from_numpy(np.concatenate([b[0] for b in image_batches(64, 3)]))
    with torch.no_grad():
        ref = model(x)
        shift_before = (int8_weights_output(program, x) - ref).mean(dim=(0, 2, 3)).abs()
        shift_after = (int8_weights_output(fixed, x) - ref).mean(dim=(0, 2, 3)).abs()
    assert float(shift_after.max()) < 0.1 * float(shift_before.max())


def test_layers_kept_in_float_are_not_corrected(program):
    corrections = measure(program, image_batches(8, 0), "executorch")
    fixed, done = corrected(program, corrections, pt2e.keep_filter(["depthwise.0"]))
    assert done == len(corrections) - 1
    assert torch.equal(fixed.state_dict["depthwise.1.bias"], program.state_dict["depthwise.1.bias"])
    assert not torch.equal(fixed.state_dict["expand.1.bias"], program.state_dict["expand.1.bias"])


def test_onnx_nodes_kept_in_float_get_their_bias_back(program, tmp_path: Path):
    """The ONNX float model is exported once with every correction; the nodes the quantizer
    excludes get the shift added back, matching the uncorrected export."""
    import onnx
    from onnx import numpy_helper

    from edge_kit.quant.onnx import prepared

    corrections = measure(program, image_batches(8, 0), "onnx")
    fixed, _ = corrected(program, corrections, lambda node: True)

    def prepared_model(p: torch.export.ExportedProgram, name: str) -> onnx.ModelProto:
        torch.export.save(p, tmp_path / f"{name}.pt2")
        export(ExportRequest(model=tmp_path / f"{name}.pt2", format="onnx", output=tmp_path / f"{name}.onnx"))
        work = tmp_path / f"{name}-work"
        work.mkdir()
        return onnx.load(str(prepared(tmp_path / f"{name}.onnx", ExportOptions(workdir=work))))

    plain, moved = prepared_model(program, "plain"), prepared_model(fixed, "fixed")
    layers = {n.name for n in moved.graph.node if n.op_type in ("Conv", "Gemm")}
    assert restore_excluded(moved, layers, corrections) == 4

    def biases(model: onnx.ModelProto) -> dict[str, np.ndarray]:
        """Each layer's bias by weight name; a zero bias may have been dropped by the optimizer."""
        inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
        return {
            n.input[1]: inits[n.input[2]] if len(n.input) > 2 else np.zeros(len(inits[n.input[1]]), np.float32)
            for n in model.graph.node
            if n.op_type in ("Conv", "Gemm")
        }

    expected, got = biases(plain), biases(moved)
    assert expected.keys() == got.keys() and len(got) == 4
    for name, value in expected.items():
        np.testing.assert_allclose(got[name], value, rtol=1e-5, atol=1e-6)


def test_an_onnx_export_keeping_every_layer_in_float_keeps_no_correction(
    program, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Through the real exporter: with Conv and Gemm kept in float, the bias-corrected recipe
    gives the same artifact outputs as the uncorrected one (every shift was added back)."""
    from tests.quant.conftest import quantize

    recipe = Path(__file__).parents[2] / "quantize" / "onnx_int8_static_qdq_per_channel_percentile_equalized.toml"
    base = recipe.read_text()
    for name, flag in (("kept_bc", "true"), ("kept_plain", "false")):
        text = base.replace('name = "onnx_int8_static_qdq_per_channel_percentile_equalized"', f'name = "{name}"')
        text = text.replace("bias_correction = true", f'bias_correction = {flag}\nkeep_float_ops = ["Conv", "Gemm"]')
        (tmp_path / f"{name}.toml").write_text(text)
    monkeypatch.setenv("EDGEKIT_RECIPES_PATH", str(tmp_path))
    from edge_kit.recipes import _load_all

    _load_all.cache_clear()
    torch.export.save(program, tmp_path / "gate.pt2")
    np.savez(tmp_path / "calib.npz", x=np.concatenate([b[0] for b in image_batches(16, 4)]))
    np.savez(tmp_path / "eval.npz", x=np.concatenate([b[0] for b in image_batches(16, 5)]))
    errors = {}
    for name in ("kept_bc", "kept_plain"):
        result = quantize(
            tmp_path / "gate.pt2",
            "onnx",
            "int8",
            tmp_path / name,
            recipe=name,
            calibration=tmp_path / "calib.npz",
            eval_data=tmp_path / "eval.npz",
        )
        errors[name] = result.manifest["accuracy"]["output_error"]
        if name == "kept_bc":
            assert result.manifest["quantization"]["bias_corrected"] == {"layers": 0}
    _load_all.cache_clear()
    assert errors["kept_bc"] == pytest.approx(errors["kept_plain"], rel=1e-3, abs=1e-9)
