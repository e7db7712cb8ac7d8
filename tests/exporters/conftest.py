"""A fluent helper: export a model, load the artifact in its runtime, check the manifest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge_kit.pipeline import ExportRequest, ExportResult, export


def export_ok(model: Path, fmt: str, out: Path, **kwargs) -> ExportResult:
    """Export `model` to `fmt`, assert status ok, and return the result."""
    result = export(ExportRequest(model=model, format=fmt, output=out, **kwargs))
    manifest = json.loads(result.manifest_path.read_text())
    assert manifest == json.loads(json.dumps(result.manifest))
    assert manifest["status"] == "ok", manifest["validation"]
    assert (
        manifest["artifact"]["format"] == fmt and result.artifact.stat().st_size == manifest["artifact"]["size_bytes"]
    )
    return result


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path
