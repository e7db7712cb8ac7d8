"""`edgekit export preset:whisper-*`: the manifest on --json, and one-line errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.timeout(600)


def _one_line_error(result: object, code: int, text: str) -> None:
    assert result.code == code, result.stderr[-1500:]  # type: ignore[attr-defined]
    errors = [line for line in result.stderr.splitlines() if line.startswith("edgekit: error")]  # type: ignore[attr-defined]
    assert len(errors) == 1 and text in errors[0], result.stderr[-1500:]  # type: ignore[attr-defined]


def test_export_onnx_folder_prints_the_manifest(tmp_path: Path) -> None:
    out = tmp_path / "whisper_onnx"
    result = run_cli("export", "preset:whisper-mini", "--format", "onnx", "--cache-len", "32", "-o", out, "--json")
    assert result.code == 0, result.stderr[-2000:]
    manifest = json.loads(result.stdout)
    assert manifest == json.loads((tmp_path / "whisper_onnx.json").read_text())
    assert sorted(p.name for p in out.iterdir()) == ["decoder.onnx", "encoder.onnx"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["whisper_onnx", "whisper_onnx.json"]  # no temp left
    assert manifest["status"] == "ok" and manifest["source"]["family"] == "whisper"
    assert manifest["validation"]["matched_steps"] == 8 and manifest["validation"]["prompt"] == [1]
    assert manifest["encoder"]["input_features"] == [1, 80, 3000] and manifest["cache"]["cache_len"] == 32
    profiled = run_cli("profile", out, "--target", "host")  # the folder: its .pte export is what profiles
    _one_line_error(profiled, 4, "is an encoder-decoder ONNX folder")


def test_bad_input_is_one_line(tmp_path: Path) -> None:
    fp16 = run_cli(
        "export", "preset:whisper-mini", "--format", "executorch", "--quantize", "fp16", "-o", tmp_path / "w.pte"
    )
    _one_line_error(fp16, 4, "no fp16 export")
    long = run_cli(
        "export", "preset:whisper-mini", "--format", "executorch", "--cache-len", "449", "-o", tmp_path / "w.pte"
    )
    _one_line_error(long, 2, "beyond the model's 448 decoder positions")
    assert list(tmp_path.iterdir()) == []


def test_an_onnx_file_name_is_refused_through_the_api(tmp_path: Path) -> None:
    import edge_kit
    from edge_kit.errors import UsageError

    with pytest.raises(UsageError, match="is a folder"):
        edge_kit.export("preset:whisper-mini", format="onnx", output=tmp_path / "w.onnx")
