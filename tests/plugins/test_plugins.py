"""Formats, sources and routes registered from outside edge_kit/: through entry points (an
installed distribution) and through `edge_kit.register_*` calls, run end to end by the real CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli

HERE = Path(__file__).resolve().parent


@pytest.fixture()
def plugin_site(tmp_path: Path) -> dict[str, str]:
    """A site folder holding the toy plugin as an installed distribution with entry points."""
    site = tmp_path / "site"
    site.mkdir()
    shutil.copy(HERE / "toy_plugin.py", site / "edgekit_toy.py")
    info = site / "edgekit_toy-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: edgekit-toy\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[edgekit.formats]\ntoy = edgekit_toy:register_format\n\n[edgekit.sources]\ntoy = edgekit_toy:register_source\n"
    )
    return {"PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}


def test_entry_point_plugin_exports_and_validates(plugin_site: dict[str, str], tmp_path: Path) -> None:
    sys.path.insert(0, str(HERE))
    try:
        from toy_plugin import write_source
    finally:
        sys.path.remove(str(HERE))
    model = write_source(tmp_path / "model.toylin")
    routes = run_cli("routes", "--json", env=plugin_site)
    assert routes.code == 0, routes.stderr
    names = {(r["framework"], r["format"], r["route"]) for r in json.loads(routes.stdout)}
    assert {("toy", "toyrt", "toy-copy"), ("toy", "onnx", "toy-gemm")} <= names
    for fmt, out in (("toyrt", tmp_path / "m.bin"), ("onnx", tmp_path / "m.onnx")):
        result = run_cli("export", model, "-f", fmt, "-o", out, "--json", env=plugin_site)
        assert result.code == 0, result.stderr[-2000:]
        manifest = json.loads(result.stdout)
        assert manifest["status"] == "ok" and manifest["artifact"]["format"] == fmt
        assert manifest["source"]["kind"] == "toylin" and manifest["validation"]["max_abs_diff"] < 1e-5
        assert out.is_file() and out.with_name(out.name + ".json").is_file()
    # A built-in precision of the built-in format, reached from the plugin's source.
    q = run_cli("export", model, "-f", "onnx", "--quantize", "int8-dynamic", "-o", tmp_path / "q.onnx", env=plugin_site)
    assert q.code in (0, 6), q.stderr[-2000:]  # written and judged; a tiny Gemm may land outside tolerance
    assert (tmp_path / "q.onnx").is_file()


def test_without_the_plugin_the_source_is_unknown(tmp_path: Path) -> None:
    sys.path.insert(0, str(HERE))
    try:
        from toy_plugin import write_source
    finally:
        sys.path.remove(str(HERE))
    result = run_cli("export", write_source(tmp_path / "model.toylin"), "-f", "onnx", "-o", tmp_path / "m.onnx")
    assert result.code == 3 and "not a model edgekit recognises" in result.stderr


def test_register_calls_in_process(tmp_path: Path) -> None:
    script = f"""
import sys, json
sys.path.insert(0, {str(HERE)!r})
import edge_kit
from edge_kit.registry import registry
import toy_plugin
toy_plugin.register_source(registry())
edge_kit.register_format(toy_plugin.ToyFormat(), [edge_kit.Route("toy-copy", "toy", "toyrt", toy_plugin._to_toyrt)])
src = toy_plugin.write_source(__import__("pathlib").Path({str(tmp_path / "m.toylin")!r}))
result = edge_kit.export(src, format="toyrt", output={str(tmp_path / "m.toyrt")!r})
print(json.dumps({{"status": result.status, "route": result.manifest["artifact"]["route"]}}))
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"status": "ok", "route": "toy-copy"}
