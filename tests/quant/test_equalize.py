"""Channel equalization (residual streams; ReLU/ReLU6 -> depthwise activations): what it finds,
that the float model is unchanged, and that the int8 artifact gets closer to the source in
every runtime."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from edge_kit.quant.equalize import HEADROOM, _scales, channel_ranges, equalize, find_gates, find_streams
from tests.quant.conftest import quantize
from tests.tiny_models import DepthwiseGate, ResidualStream, TinyCNN, image_batches

X = torch.rand(1, 1, 8, 8)


def _program(model: torch.nn.Module) -> torch.export.ExportedProgram:
    torch.manual_seed(0)
    return torch.export.export(model.eval(), (X,))


@pytest.fixture(scope="module")
def stream_model() -> torch.export.ExportedProgram:
    torch.manual_seed(0)
    return _program(ResidualStream())


def test_finds_the_stream_its_writers_and_readers(stream_model):
    streams = find_streams(stream_model.module())
    assert len(streams) == 1
    stream = streams[0]
    assert [n.target.__name__ for n in stream.writers] == ["batch_norm.default"] * 2
    assert len(stream.nodes) == 3  # two writers and the add
    readers = sorted(n.args[1].target for n in stream.readers)
    assert readers == ["expand.weight", "head.weight"]


@pytest.mark.parametrize("model", [TinyCNN(), ResidualStream(leak=True)], ids=["no-stream", "relu-on-stream"])
def test_streams_touched_by_anything_but_adds_and_convs_are_left_alone(model):
    program = _program(model)
    assert find_streams(program.module()) == []
    same, done = equalize(program, image_batches(4, 0))
    assert same is program and done == {"streams": 0, "channels": 0}


def test_equalizing_keeps_the_float_model_and_balances_the_channels(stream_model):
    before = {k: v.clone() for k, v in stream_model.state_dict.items()}
    equalized, done = equalize(stream_model, image_batches(16, 1))
    assert done == {"streams": 1, "channels": 4}
    x = torch.from_numpy(image_batches(1, 2)[0][0])
    ref, got = stream_model.module()(x), equalized.module()(x)
    assert torch.allclose(ref, got, rtol=1e-4, atol=1e-4 * float(ref.abs().max()))
    assert all(torch.equal(before[k], v) for k, v in stream_model.state_dict.items())  # source untouched

    def spread(program: torch.export.ExportedProgram) -> float:
        module = program.module()
        ranges = channel_ranges(module, [s.nodes for s in find_streams(module)], image_batches(16, 3))[0]
        return float(ranges.max() / ranges.min())

    assert spread(stream_model) > 20 and spread(equalized) < spread(stream_model) / 4


def test_finds_relu6_outputs_read_by_depthwise_convs_only():
    gated = _program(DepthwiseGate())
    gates = find_gates(gated.module(), gated.state_dict)
    assert len(gates) == 1  # the expansion; the depthwise output feeds a plain 1x1 conv
    gate = gates[0]
    assert gate.cap == 6.0 and gate.writer.args[1].target == "expand.1.weight"
    assert [r.args[1].target for r in gate.readers] == ["depthwise.0.weight"]
    assert find_gates(_program(DepthwiseGate(dense=True)).module(), gated.state_dict) == []


def test_activation_equalization_keeps_the_float_model_and_lifts_quiet_channels():
    program = _program(DepthwiseGate())
    calibration = image_batches(16, 6)
    equalized, done = equalize(program, calibration, streams=False, activations=True)
    assert done == {"streams": 0, "channels": 0, "activations": 1, "activation_channels": 8}
    for arrays in image_batches(4, 7):  # fresh inputs from the calibration distribution
        x = torch.from_numpy(arrays[0])
        ref, got = program.module()(x), equalized.module()(x)
        assert torch.allclose(ref, got, rtol=1e-4, atol=1e-5 * float(ref.abs().max()))

    def ranges(p: torch.export.ExportedProgram) -> torch.Tensor:
        module = p.module()
        return channel_ranges(module, [[find_gates(module, p.state_dict)[0].activation]], calibration)[0]

    before, after = ranges(program), ranges(equalized)
    assert float(before.max() / before.min()) > 20
    assert torch.allclose(after, torch.maximum(before, torch.full_like(before, 6.0 / HEADROOM)), rtol=1e-3)


def test_channels_the_calibration_never_moved_keep_their_scale(stream_model):
    stream = find_streams(stream_model.module())[0]
    x_range = torch.tensor([50.0, 1.0, 0.0, 2.0])
    scale = _scales(stream, x_range, stream_model.state_dict)
    assert scale[2] == 1.0 and scale[0] > scale[1] > 0


RECIPES = {
    "onnx": ("onnx_int8_static_qdq_per_channel_minmax", "onnx_int8_static_qdq_per_channel_percentile_equalized"),
    "executorch": ("xnnpack_pt2e_int8_static_per_channel", "xnnpack_pt2e_int8_static_per_channel_equalized"),
    "tflite": ("litert_pt2e_int8_static_per_channel", "litert_pt2e_int8_static_per_channel_equalized"),
}


@pytest.mark.parametrize("fmt", sorted(RECIPES))
def test_equalized_recipe_brings_int8_closer_to_the_source(stream_model, tmp_path: Path, fmt: str):
    model = tmp_path / "stream.pt2"
    torch.export.save(stream_model, model)
    data = tmp_path / "data"
    data.mkdir()
    np.savez(data / "calib.npz", x=np.concatenate([b[0] for b in image_batches(64, 4)]))
    np.savez(data / "eval.npz", x=np.concatenate([b[0] for b in image_batches(64, 5)]))
    kwargs = {"calibration": data / "calib.npz", "eval_data": data / "eval.npz"}
    plain_recipe, equal_recipe = RECIPES[fmt]
    plain = quantize(model, fmt, "int8", tmp_path / "plain", recipe=plain_recipe, **kwargs).manifest
    equal = quantize(model, fmt, "int8", tmp_path / "equal", recipe=equal_recipe, **kwargs).manifest
    assert "equalized" not in plain["quantization"]
    assert equal["quantization"]["equalized"] == {
        "streams": 1,
        "channels": 4,
        "activations": 0,
        "activation_channels": 0,
    }
    assert equal["quantization"]["settings"]["equalize_streams"] is True
    assert equal["quantization"]["bias_corrected"]["layers"] >= 5  # stem, 2 projections, expand, head, fc
    assert equal["status"] == "ok"
    assert equal["accuracy"]["output_error"] < 0.5 * plain["accuracy"]["output_error"]
