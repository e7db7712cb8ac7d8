"""`edgekit bench` end to end on the digits sample (real exports, real emulated profiles)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest

from edge_kit.documents.bench import Leaderboard
from tests.conftest import SAMPLES, run_cli

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def bench_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bench") / "out"
    result = run_cli(
        "bench",
        SAMPLES / "digits_cnn.pt2",
        "--target",
        "raspi",
        "--formats",
        "tflite,onnx,ptl",
        "--quantize",
        "fp32,int8",
        "--calibration",
        SAMPLES / "digits_calib.npz",
        "--eval",
        SAMPLES / "digits_eval.npz",
        "--num_runs",
        "2",
        "-o",
        out,
        "--json",
        timeout=1500,
    )
    assert result.code == 0, result.stderr[-3000:]
    assert json.loads(result.stdout) == json.loads((out / "bench.json").read_text())
    return out


def test_every_cell_has_a_status_and_failures_do_not_stop_the_others(bench_dir: Path):
    board = json.loads((bench_dir / "bench.json").read_text())
    Leaderboard.model_validate(board)  # the documented type, and the schema `edgekit schema bench` prints
    schema = run_cli("schema", "bench")
    assert schema.code == 0, schema.stderr
    jsonschema.validate(board, json.loads(schema.stdout))
    rows = {r["cell"]: r for r in board["rows"]}
    assert set(rows) == {f"{f}-{p}" for f in ("tflite", "onnx", "ptl") for p in ("fp32", "int8")}
    assert rows["ptl-int8"]["status"] == "failed" and "ptl" in rows["ptl-int8"]["reason"]
    assert rows["ptl-int8"]["icon"] == "❌"
    for cell in ("tflite-fp32", "tflite-int8", "onnx-fp32", "onnx-int8"):
        assert rows[cell]["status"] == "ok", rows[cell]
        assert (bench_dir / "cells" / cell / "export.log").exists()
    assert board["recommended"] in {"tflite-fp32", "tflite-int8", "onnx-fp32", "onnx-int8"}
    assert board["rows"][0]["cell"] == board["recommended"]


def test_leaderboard_figures_match_the_cells_own_manifests_and_profiles(bench_dir: Path):
    board = json.loads((bench_dir / "bench.json").read_text())
    for row in board["rows"]:
        if row["status"] != "ok":
            continue
        cell = bench_dir / "cells" / row["cell"]
        manifest = json.loads(next(cell.glob("model.*.json")).read_text())
        profile = json.loads((cell / "profile" / "profile.json").read_text())
        assert row["size_bytes"] == manifest["artifact"]["size_bytes"]
        assert row["accuracy"]["value"] == manifest["accuracy"]["artifact"]
        assert row["accuracy"]["drop"] == manifest["accuracy"]["drop"]
        assert row["emulated_p50_ms"] == profile["latency"]["p50_ms"]
        assert row["estimated_ms"] == (profile.get("estimate") or {}).get("estimated_device_latency_ms")
        assert row["peak_memory_kb"] == profile["memory"]["peak_over_runtime_kb"]
        assert row["latency_kind"] == "emulated" and row["measured_p50_ms"] is None  # QEMU time is not device time
        if row["estimated_ms"]:
            assert row["device_p50_ms"] == row["estimated_ms"] and row["device_latency_kind"] == "estimated"
    assert board["ranked_by"] == "estimated" and board["ranked_on"].startswith("estimated device latency")
    assert board["ranked_on"] in board["recommendation"] and not board["baseline"]["measured"]
    assert "not run on raspi4" in board["baseline"]["reason"]


def test_a_rerun_reuses_finished_cells(bench_dir: Path):
    result = run_cli(
        "bench",
        SAMPLES / "digits_cnn.pt2",
        "--target",
        "raspi",
        "--formats",
        "tflite,onnx,ptl",
        "--quantize",
        "fp32,int8",
        "--calibration",
        SAMPLES / "digits_calib.npz",
        "--eval",
        SAMPLES / "digits_eval.npz",
        "--num_runs",
        "2",
        "-o",
        bench_dir,
        "--json",
    )
    assert result.code == 0
    assert all(r["cached"] for r in json.loads(result.stdout)["rows"])


def test_markdown_names_the_recommendation(bench_dir: Path):
    text = (bench_dir / "bench.md").read_text()
    assert "Recommended:" in text and "✅" in text and "❌" in text
    assert "| est. device p50 | emulated p50 |" in text and "| accuracy (95% CI) | drop |" in text


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (make setup installs it)")
def test_html_renders_offline_in_headless_chromium_with_all_plots(bench_dir: Path, tmp_path: Path):
    from PIL import Image

    html = bench_dir / "bench.html"
    flags = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    dom = subprocess.run([*flags, "--dump-dom", html.as_uri()], capture_output=True, text=True, timeout=120).stdout
    assert dom.count("<svg") >= 4 and '<g id="pareto">' in dom  # the Pareto front's markers
    shot = tmp_path / "bench.png"
    subprocess.run(
        [*flags, f"--screenshot={shot}", "--window-size=1100,2600", html.as_uri()], capture_output=True, timeout=120
    )
    image = Image.open(shot).convert("L")
    colours = len(set(image.getdata()))
    assert image.size == (1100, 2600) and colours > 20  # charts drawn, not a blank page
