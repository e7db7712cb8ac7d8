"""The CLI as a user sees it: real subprocesses, exit codes, one-line errors, clean stdout."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edge_kit.errors import EXIT_CODES
from tests.conftest import ROOT, assert_clean_error, run_cli, snapshot


@pytest.mark.parametrize("args", [["--help"], ["targets"]])
def test_light_commands_answer_in_under_a_second(args: list[str]):
    exe = Path(sys.executable).with_name("edgekit")
    best = min(_timed([str(exe), *args]) for _ in range(3))
    assert best < 1.0, best


def _timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, timeout=30)
    return time.perf_counter() - start


def test_targets_json_is_one_document():
    result = run_cli("targets", "--json")
    assert result.code == 0
    names = {t["name"] for t in json.loads(result.stdout)}
    assert {"raspi4", "raspi5", "jetson-nano", "android-arm64", "aarch64", "host"} <= names


def test_export_json_prints_only_the_manifest(tiny: dict, tmp_path: Path):
    out = tmp_path / "m.onnx"
    result = run_cli("export", tiny["cnn.pt2"], "--format", "onnx", "-o", out, "--json")
    assert result.code == 0, result.stderr[-2000:]
    manifest = json.loads(result.stdout)
    assert manifest["status"] == "ok" and manifest == json.loads(out.with_name("m.onnx.json").read_text())
    assert out.is_file() and "validation ok" in result.stderr


def test_export_by_target_picks_the_preferred_format(tiny: dict, tmp_path: Path):
    result = run_cli("export", tiny["cnn.pt2"], "--target", "raspi", "-o", tmp_path / "m.tflite", "--json")
    assert result.code == 0, result.stderr[-2000:]
    assert json.loads(result.stdout)["artifact"]["format"] == "tflite"


def _garbage(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / "in" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(content)
    return path


@pytest.mark.parametrize(
    "case, code, needle",
    [
        ("zero-byte", 3, "empty"),
        ("random-pt", 3, "not a model"),
        ("text-onnx", 3, "looks like text"),
        ("unknown-target", 2, "unknown target"),
        ("missing-shape", 2, "--input-shape"),
        ("unknown-format", 2, "unknown format"),
        ("output-is-dir", 10, "is a directory"),
    ],
)
def test_bad_input_gives_one_clear_line_and_leaves_nothing(
    tiny: dict, tmp_path: Path, case: str, code: int, needle: str
):
    out = tmp_path / "out"
    out.mkdir()
    args = {
        "zero-byte": [_garbage(tmp_path, "zero.pt", b""), "-o", out / "m.onnx"],
        "random-pt": [_garbage(tmp_path, "random.pt", os.urandom(2048)), "-o", out / "m.onnx"],
        "text-onnx": [_garbage(tmp_path, "text.onnx", b"not really onnx\n" * 20), "-o", out / "m.onnx"],
        "unknown-target": [tiny["cnn.pt2"], "--target", "raspi6", "-o", out / "m.tflite"],
        "missing-shape": [tiny["cnn.pt"], "--format", "onnx", "-o", out / "m.onnx"],
        "unknown-format": [tiny["cnn.pt2"], "--format", "coreml", "-o", out / "m.mlmodel"],
        "output-is-dir": [tiny["cnn.pt2"], "--format", "onnx", "-o", out],
    }[case]
    before = snapshot(out)
    assert_clean_error(run_cli("export", *args), code, needle)
    assert snapshot(out) == before


def test_debug_shows_the_traceback(tmp_path: Path):
    result = run_cli("--debug", "export", _garbage(tmp_path, "m.pt", b""), "-o", tmp_path / "m.onnx")
    assert result.code == 3 and "Traceback" in result.stderr


def test_readme_documents_every_exit_code():
    readme = (ROOT / "README.md").read_text()
    for code in EXIT_CODES:
        assert f"| {code} |" in readme, code
