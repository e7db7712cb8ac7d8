"""Static checks behind docs/security.md, and the trust flag doing exactly what it says."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.hardening import inputs as bad
from tests.hardening.conftest import edgekit

SOURCES = sorted((ROOT / "edge_kit").rglob("*.py"))
RUNNERS = {"run", "call", "check_call", "check_output"}


def _calls(path: Path) -> list[tuple[str, ast.Call]]:
    """(dotted name, node) of every call in a module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            func, parts = node.func, []
            while isinstance(func, ast.Attribute):
                parts.append(func.attr)
                func = func.value
            if isinstance(func, ast.Name):
                parts.append(func.id)
            found.append((".".join(reversed(parts)), node))
    return found


def test_no_shell_and_every_subprocess_has_a_timeout() -> None:
    problems = []
    for path in SOURCES:
        for name, call in _calls(path):
            where = f"{path.relative_to(ROOT)}:{call.lineno} {name}"
            keywords = {k.arg: k.value for k in call.keywords}
            if name in ("os.system", "os.popen", "os.spawnl", "os.spawnlp", "os.execl", "os.execlp"):
                problems.append(f"{where}: runs a shell or replaces the process")
            shell = keywords.get("shell")
            if shell is not None and not (isinstance(shell, ast.Constant) and shell.value is False):
                problems.append(f"{where}: shell=")
            if name.startswith("subprocess.") and name.split(".")[-1] in RUNNERS and "timeout" not in keywords:
                problems.append(f"{where}: no timeout")
    assert not problems, problems
    assert len(SOURCES) > 50


def test_trust_flag_is_what_lets_a_pt2_pickle_run(tiny: dict[str, Path], tmp_path: Path) -> None:
    """Without --trust-model the payload never runs (the catalogue proves it); with it, it does."""
    marker = tmp_path / "PAYLOAD-RAN"
    model = bad.pt2_with_pickle(tiny["cnn.pt2"], tmp_path / "m.pt2", marker)
    result = edgekit("export", model, "--format", "onnx", "--trust-model", "-o", tmp_path / "m.onnx")
    assert marker.exists(), result.stderr[-2000:]


@pytest.mark.parametrize("name", ["cnn.pt2", "cnn.pt", "cnn.onnx", "cnn.keras"])
def test_file_names_that_are_not_utf8_work_both_ways(tiny: dict[str, Path], tmp_path: Path, name: str) -> None:
    folder = os.fsencode(tmp_path)
    source = folder + b"/m\xff\xfe-" + name.encode()
    Path(source.decode("utf-8", "surrogateescape")).write_bytes(tiny[name].read_bytes())
    shape = ["--input-shape", "1,1,8,8"] if name == "cnn.pt" else []
    result = edgekit("export", source, "--format", "onnx", *shape, "-o", folder + b"/out\xff.onnx")
    assert result.code == 0, result.stderr[-2000:]
    written = sorted(p for p in tmp_path.iterdir() if p.name.startswith("out"))
    assert [p.name.encode("utf-8", "surrogateescape") for p in written] == [b"out\xff.onnx", b"out\xff.onnx.json"]
    umask = os.umask(0o022)
    os.umask(umask)
    assert all(p.stat().st_mode & 0o777 == 0o666 & ~umask for p in written)  # not mkstemp's private 0600
