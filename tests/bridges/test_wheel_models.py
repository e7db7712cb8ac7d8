"""Real outside models (pinned wheels, read from disk): ONNX → ExportedProgram → TFLite / ExecuTorch,
every output compared with onnxruntime running the original file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from edge_kit.bridges.onnx_to_torch import convert
from edge_kit.errors import ExportError
from edge_kit.exporters import ExportOptions
from edge_kit.models.base import flatten_outputs
from edge_kit.models.sniff import Kind
from edge_kit.models.torch_models import TorchSource
from edge_kit.recipes import default_recipe
from edge_kit.registry import get_format
from edge_kit.signature import TensorSpec, random_inputs
from sample_models import wheel_models
from tests.bridges.conftest import wheel_model
from tests.conftest import convert_with


def _reference(path: Path, arrays: list[np.ndarray]) -> list[np.ndarray]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, dict(zip([i.name for i in session.get_inputs()], arrays)))


def _worst(got: list[np.ndarray], expected: list[np.ndarray]) -> float:
    """Largest |diff| relative to the largest |reference| value (at least 1)."""
    scale = max(1.0, *(float(np.abs(e).max()) for e in expected))
    return max(float(np.abs(np.asarray(g, np.float64) - e).max()) for g, e in zip(got, expected)) / scale


# A representative subset (detector with Resize/Concat/Split head; PP-OCR with Constant weights); the
# PP-OCR det/rec models and every format × precision run in benchmarks/bench_onnx_bridge.py.
# silero-vad: its `If` on the sample rate folds once sr is given as a constant; its LSTM is unrolled.
SILERO_16K = [*wheel_models.BY_NAME["silero-vad"].inputs[:2], TensorSpec("sr", (), "int64", kind="const", value=16000)]


@pytest.mark.parametrize("name", ["nudenet-yolov8n", "ppocr-v2-cls", "silero-vad-16k", "silero-vad"])
def test_program_matches_onnxruntime_on_the_original(name: str):
    path = wheel_model(name)
    specs = SILERO_16K if name == "silero-vad" else list(wheel_models.BY_NAME[name].inputs)
    program = convert(path, specs).program
    arrays = random_inputs(specs, 1, seed=5)[0]
    with torch.no_grad():
        got = flatten_outputs(program.module()(*[torch.from_numpy(a) for a in arrays]))
    assert _worst(got, _reference(path, arrays)) < 1e-5


def test_control_flow_on_an_input_not_given_as_a_constant_names_the_blocking_node():
    path = wheel_model("silero-vad")
    with pytest.raises(ExportError) as caught:
        convert(path, list(wheel_models.BY_NAME["silero-vad"].inputs))  # sr random: the If stays
    assert "convert failed at If node 'If_0'" in caught.value.one_line() and caught.value.exit_code == 5


@pytest.fixture(scope="module")
def cls_source() -> TorchSource:
    path = wheel_model("ppocr-v2-cls")
    specs = list(wheel_models.BY_NAME["ppocr-v2-cls"].inputs)
    source = TorchSource(path, Kind.EXPORTED_PROGRAM, convert(path, specs).program)
    source.inputs = specs
    return source


@pytest.mark.parametrize(
    "fmt, precision, tolerance",
    [("executorch", "fp32", 1e-5), ("tflite", "int8", 0.15)],
)
def test_ppocr_cls_artifacts_match_onnxruntime(cls_source, tmp_path: Path, fmt: str, precision: str, tolerance):
    exporter = get_format(fmt)
    recipe = None if precision == "fp32" else default_recipe(fmt, precision, "torch")
    calibration = random_inputs(cls_source.inputs, 8, seed=11) if recipe else None
    dest = tmp_path / f"cls{exporter.suffix}"
    convert_with(cls_source, fmt, dest, ExportOptions(precision=precision, recipe=recipe, calibration=calibration))
    arrays = random_inputs(cls_source.inputs, 1, seed=5)[0]
    got = exporter.load(dest, cls_source.inputs).run(arrays)
    assert _worst(got, _reference(cls_source.path, arrays)) < tolerance
    if precision == "int8":  # weights really are int8: the fp32 model is ~0.53 MB
        assert dest.stat().st_size < 0.6 * cls_source.path.stat().st_size
