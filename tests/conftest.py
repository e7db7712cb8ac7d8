"""Shared fixtures: small real models of every source kind, built once per session."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # sample_models/ is importable in tests
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SAMPLES = ROOT / "sample_models"
EDGEKIT = [sys.executable, "-m", "edge_kit"]


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 600, env: dict | None = None) -> CliResult:
    """Run the real `edgekit` in a subprocess (exit codes, stdout/stderr as a user sees them)."""
    proc = subprocess.run(
        [*EDGEKIT, *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def assert_clean_error(result: CliResult, code: int, *needles: str) -> None:
    """One clear error line, the documented exit code, no traceback."""
    assert result.code == code, (result.code, result.stderr[-2000:])
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("edgekit: error:")]
    assert len(errors) == 1, result.stderr[-2000:]
    for needle in needles:
        assert needle.lower() in errors[0].lower(), errors[0]


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """(size, mtime_ns) of every file under `folder`, to prove nothing was written."""
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()
    }


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny CNN saved as every source kind edgekit reads."""
    import numpy as np
    import torch

    from tests.tiny_models import TinyCNN, tiny_keras

    folder = tmp_path_factory.mktemp("tiny")
    torch.manual_seed(0)
    model = TinyCNN().eval()
    x = torch.rand(1, 1, 8, 8)
    paths = {
        name: folder / name
        for name in ("cnn.pt", "cnn.pt2", "cnn_state.pt", "cnn_full.pt", "cnn.keras", "cnn.h5", "cnn_sm", "cnn.onnx")
    }
    torch.jit.save(torch.jit.trace(model, x), paths["cnn.pt"])
    torch.export.save(torch.export.export(model, (x,)), paths["cnn.pt2"])
    torch.save(model.state_dict(), paths["cnn_state.pt"])
    torch.save(model, paths["cnn_full.pt"])
    torch.onnx.export(model, (x,), str(paths["cnn.onnx"]), dynamo=False, input_names=["x"])
    keras_model = tiny_keras()
    keras_model.save(paths["cnn.keras"])
    keras_model.save(paths["cnn.h5"])
    keras_model.export(str(paths["cnn_sm"]), verbose=False)
    np.savez(folder / "inputs.npz", x=np.random.default_rng(0).random((4, 1, 8, 8), dtype=np.float32))
    paths["inputs.npz"] = folder / "inputs.npz"
    return paths


def torch_reference(model: Path, eval_npz: Path) -> tuple[float, int]:
    """Top-1 accuracy (%) of a sample ``.pt2`` on its held-out data, and its MACs per inference
    counted by torch's own FLOP counter (so tests never hard-code a model's figures)."""
    import numpy as np
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    module = torch.export.load(str(model)).module()
    with np.load(eval_npz, allow_pickle=False) as data:
        x, y = torch.from_numpy(data["x"]), data["y"]
    with torch.no_grad():
        predictions = np.array([int(module(x[i : i + 1]).argmax(1)) for i in range(len(y))])
        with FlopCounterMode(display=False) as counter:
            module(x[:1])
    return float((predictions == y).mean() * 100), counter.get_total_flops() // 2


def convert_with(source, fmt: str, dest: Path, options) -> dict:
    """Convert a loaded source to `fmt` by its first route, as the export's convert stage does."""
    from edge_kit.pipeline.stages import build
    from edge_kit.registry import get_format, routes_for

    return build(get_format(fmt), routes_for(source.framework, fmt)[0], source, dest, options)


def layers_of(source, fmt: str, options) -> list:
    """The layers the first route to `fmt` can keep in float at `options.precision`."""
    from edge_kit.pipeline.stages import quantizable_layers
    from edge_kit.registry import get_format, routes_for

    return quantizable_layers(get_format(fmt), routes_for(source.framework, fmt)[0], source, options)


# Markers by module, in one place (the fast inner loop is `make test-fast` = `-m unit`):
# unit = pure logic and small files, seconds each; emulation = runs the arm64 guest (QEMU or
# Docker); slow = minutes each (outside models, MobileNetV2, the full bad-input catalogue).
UNIT = (
    "tests/inputs/test_inputspec.py",
    "tests/test_signature.py",
    "tests/test_targets.py",
    "tests/test_recipes.py",
    "tests/test_packaging.py",
    "tests/test_budget.py",
    "tests/emulation/test_cpuinfo.py",
    "tests/emulation/test_insn_classes.py",
    "tests/estimate/test_model.py",
    "tests/estimate/test_calibrate.py",
    "tests/report/",
    "tests/documents/test_data_files.py",
    "tests/documents/test_schemas.py",
    "tests/devices/test_inventory.py",
    "tests/packager/test_archive.py",
    "tests/benchmark/test_criterion.py",
    "tests/benchmark/test_gate.py",
    "tests/benchmark/test_overlap.py",
    "tests/benchmark/test_explain.py",
    "tests/benchmark/test_session.py",
    "tests/benchmark/test_cells.py",
    "tests/benchmark/test_report_rows.py",
    "tests/generative/test_source.py",
    "tests/quant/test_ort_int8_kernels.py",
)
EMULATION = (
    "tests/emulation/",
    "tests/profiler/",
    "tests/devices/test_ssh.py",
    "tests/devices/test_fanout.py",
    "tests/docker/",
    "tests/harness/",
    "tests/packager/test_linux.py",
    "tests/benchmark/test_bench.py",
    "tests/inputs/test_real_models.py",
    "tests/generative/test_profile_raspi.py",
)
SLOW = (
    "tests/zoo/",
    "tests/quant/test_mobilenet.py",
    "tests/hardening/test_catalogue.py",
    "tests/generative/test_export.py",  # every format x precision of two decoders: ExecuTorch lowering dominates
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.fspath)).relative_to(ROOT).as_posix()
        for marker, prefixes in (("unit", UNIT), ("emulation", EMULATION), ("slow", SLOW)):
            if path.startswith(prefixes) and not (marker == "unit" and path.startswith(EMULATION)):
                item.add_marker(getattr(pytest.mark, marker))
