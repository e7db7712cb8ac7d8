"""`edgekit bench` on the host, end to end on the digits sample (real exports, real native profiles):
the search for an int8 cell outside the budget, agreement worded as agreement, native latencies
labelled measured, and the speedup over the source model run the usual way."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edge_kit.recipes import get_recipe
from tests.conftest import SAMPLES, run_cli

pytestmark = pytest.mark.timeout(1500)


def _bench(out: Path, evalset: Path, *extra: str, formats: str = "onnx,tflite", precisions: str = "fp32,int8"):
    return run_cli(
        "bench",
        SAMPLES / "digits_cnn.pt2",
        "--target",
        "host",
        "--formats",
        formats,
        "--quantize",
        precisions,
        "--calibration",
        SAMPLES / "digits_calib.npz",
        "--eval",
        evalset,
        "--num_threads",
        "1",
        "--num_runs",
        "5",
        "-o",
        out,
        "--json",
        *extra,
        timeout=1500,
    )


@pytest.fixture(scope="module")
def unlabelled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "digits_eval_x.npz"
    np.savez(path, x=np.load(SAMPLES / "digits_eval.npz")["x"])  # the labels dropped: agreement only
    return path


@pytest.fixture(scope="module")
def searched(tmp_path_factory: pytest.TempPathFactory, unlabelled: Path) -> tuple[Path, dict, str]:
    """100% agreement demanded: digits onnx int8 flips 2 of 450 inputs with its default recipe."""
    out = tmp_path_factory.mktemp("search") / "out"
    result = _bench(out, unlabelled, "--min-agreement", "100")
    assert result.code == 0, result.stderr[-3000:]
    board = json.loads(result.stdout)
    assert board == json.loads((out / "bench.json").read_text())
    return out, board, result.stderr


def _rows(board: dict) -> dict[str, dict]:
    return {r["cell"]: r for r in board["rows"]}


def test_an_int8_cell_outside_the_budget_tries_the_other_recipes_then_mixed_precision(searched):
    out, board, _ = searched
    row = _rows(board)["onnx-int8"]
    attempts = row["attempts"]
    first = attempts[0]
    assert first["recipe"] == "onnx_int8_static_qdq_per_channel_minmax" and first["status"] == "outside"
    assert first["agreement"]["agreement"] < 100 and "< 100% minimum" in first["reason"]
    tried = [a["recipe"] for a in attempts[1:] if not a["mixed_precision"]]
    assert tried[0] == "onnx_int8_static_qdq_per_channel_percentile_equalized"  # equalized first
    assert get_recipe(tried[-1]).per_channel is False  # per-tensor last
    assert row["search"]["ran"] and row["search"]["variants"][: len(tried)] == tried
    within = [a for a in attempts if a["status"] == "ok"]
    if not any(a["status"] == "ok" for a in attempts[: len(tried) + 1]):
        mixed = attempts[-1]
        assert mixed["mixed_precision"] and mixed["keep_float"] and mixed["requantizations"] >= 1
    kept = next(a for a in attempts if a["chosen"])
    assert kept["status"] == "ok" and kept["device_p50_ms"] == min(a["device_p50_ms"] for a in within)
    assert row["status"] == "ok" and row["recipe"] == kept["recipe"] and row["keep_float"] == kept["keep_float"]
    folder = out / "cells" / "onnx-int8" / kept["folder"]
    manifest = json.loads((folder / "model.onnx.json").read_text())
    profile = json.loads((folder / "profile" / "profile.json").read_text())
    assert row["agreement"]["agreement"] == manifest["accuracy"]["artifact"] == 100.0
    assert row["device_p50_ms"] == profile["latency"]["p50_ms"] and row["folder"] == str(folder)


def test_a_cell_within_the_budget_is_not_searched(searched):
    _, board, _ = searched
    fp32 = _rows(board)["onnx-fp32"]
    assert "attempts" not in fp32 and not (fp32.get("search") or {}).get("ran")


def test_without_labels_the_quality_is_agreement_everywhere(searched):
    out, board, _ = searched
    assert board["criterion"]["metric"] == "agreement" and board["criterion"]["min_agreement"] == 100
    for row in board["rows"]:
        assert "accuracy" not in row and "drop" not in row["agreement"]
        assert row["agreement"]["samples"] == 450 and len(row["agreement"]["interval95"]) == 2
    md, page = (out / "bench.md").read_text(), (out / "bench.html").read_text()
    for text in (md, page):
        assert "agreement (95% CI)" in text and "drop" not in text.lower() and "| accuracy" not in text
        assert "↳ 1" in text and "onnx_int8_static_qdq_per_channel_percentile_equalized" in text  # the attempts
    assert "top-1 agreement with the fp32 source (no labels)" in board["recommendation"]


def test_host_latency_is_measured_labelled_so_and_ranks_the_board(searched):
    out, board, _ = searched
    for row in board["rows"]:
        profile = json.loads((Path(row["folder"]) / "profile" / "profile.json").read_text())
        assert row["latency_kind"] == profile["latency"]["kind"] == "measured"
        assert row["device_p50_ms"] == row["measured_p50_ms"] == profile["latency"]["p50_ms"]
        assert row["device_latency_kind"] == "measured" and row["emulated_p50_ms"] is None
    assert board["ranked_by"] == "measured" and "measured natively on this machine (1 thread;" in board["ranked_on"]
    assert board["ranked_on"] in board["recommendation"] and "emulated" not in board["recommendation"]
    md = (out / "bench.md").read_text()
    assert "device p50 (measured)" in md and "emulated" not in md
    ok = [r for r in board["rows"] if r["status"] == "ok"]
    assert board["recommended"] == min(ok, key=lambda r: r["device_p50_ms"])["cell"]


def test_the_recommendation_states_its_speedup_over_the_source_run_the_usual_way(searched):
    _, board, _ = searched
    base = board["baseline"]
    assert base["measured"] and base["runner"].startswith("torch eager") and base["threads"] == 1
    assert set(base["subjects"]) == {r["cell"] for r in board["rows"]} and not base["failed"]
    winner = _rows(board)[board["recommended"]]
    speedup = round(base["p50_ms"] / base["subjects"][winner["cell"]]["p50_ms"], 2)
    assert winner["speedup_vs_baseline"] == base["speedups"][winner["cell"]] == speedup
    assert f"{speedup:.1f}x faster than the source model in torch eager" in board["recommendation"]
    assert "1 thread(s), measured in this run" in board["recommendation"]
    formats = {e["format"]: e for e in board["int8_vs_fp32"]}
    assert set(formats) == {"onnx", "tflite"}
    for e in formats.values():
        same = e["same_run"]
        assert same["speedup"] == round(same["fp32_ms"] / same["int8_ms"], 2)


def test_a_rerun_reuses_the_cells_and_their_attempts(searched, unlabelled: Path):
    out, board, _ = searched
    again = _bench(out, unlabelled, "--min-agreement", "100")
    assert again.code == 0, again.stderr[-2000:]
    rows = _rows(json.loads(again.stdout))
    assert all(r["cached"] for r in rows.values())
    assert [a["recipe"] for a in rows["onnx-int8"]["attempts"]] == [
        a["recipe"] for a in _rows(board)["onnx-int8"]["attempts"]
    ]
    assert "exporting" not in again.stderr


def test_search_time_bounds_the_search_and_zero_turns_it_off(tmp_path: Path, unlabelled: Path):
    out = tmp_path / "out"
    bounded = _bench(out, unlabelled, "--min-agreement", "100", "--search-time", "1", formats="onnx", precisions="int8")
    assert bounded.code == 0, bounded.stderr[-2000:]
    row = json.loads(bounded.stdout)["rows"][0]
    assert row["search"]["stopped_by"] == "search time" and len(row["search"]["variants"]) == 1
    assert row["attempts"][1]["status"] == "failed" and "timed out" in row["attempts"][1]["reason"]
    assert row["status"] == "outside" and "no variant within the budget after 2 attempts" in row["reason"]
    off = _bench(out, unlabelled, "--min-agreement", "100", "--search-time", "0", formats="onnx", precisions="int8")
    row = json.loads(off.stdout)["rows"][0]
    assert row["search"] == {**row["search"], "ran": False, "skipped": "search off (--search-time 0)"}
    assert "attempts" not in row and "exporting" not in off.stderr  # the first attempt was reused


def test_calibrating_on_the_eval_data_is_a_warning(tmp_path: Path):
    evalset = SAMPLES / "digits_eval.npz"
    result = run_cli(
        "bench", SAMPLES / "digits_cnn.pt2", "--target", "host", "--formats", "onnx", "--quantize", "int8",
        "--calibration", evalset, "--eval", evalset, "--num_runs", "2", "--no-baseline", "-o", tmp_path / "o", "--json",
    )  # fmt: skip
    assert result.code == 0, result.stderr[-2000:]
    board = json.loads(result.stdout)
    assert board["warnings"] == [
        "--calibration and --eval are the same file (digits_eval.npz): int8 is judged on the inputs it was calibrated on"
    ]
    assert "edgekit: warning: --calibration and --eval are the same file" in result.stderr
    assert board["warnings"][0] in (tmp_path / "o" / "bench.md").read_text()
    assert board["baseline"] == {"measured": False, "reason": board["baseline"]["reason"]}


def test_with_labels_it_is_accuracy_and_a_slower_int8_says_why(tmp_path: Path):
    """Labelled digits: accuracy and its drop against the budget; onnx dynamic int8 next to fp32."""
    from edge_kit.benchmark.explain import dot_product

    out = tmp_path / "out"
    result = _bench(out, SAMPLES / "digits_eval.npz", "--no-baseline", formats="onnx", precisions="fp32,int8-dynamic")
    assert result.code == 0, result.stderr[-2000:]
    board = json.loads(result.stdout)
    assert board["criterion"]["metric"] == "accuracy" and "top-1 accuracy" in board["recommendation"]
    for row in board["rows"]:
        assert "agreement" not in row and row["accuracy"]["samples"] == 450
        manifest = json.loads((Path(row["folder"]) / "model.onnx.json").read_text())
        assert row["accuracy"]["drop"] == manifest["accuracy"]["drop"] and row["accuracy"]["source"] > 90
    md = (out / "bench.md").read_text()
    assert "| accuracy (95% CI) | drop |" in md
    dynamic = _rows(board)["onnx-int8-dynamic"]
    profile = json.loads((Path(dynamic["folder"]) / "profile" / "profile.json").read_text())
    if dot_product(profile["machine"])[0] is False:  # no VNNI here: ConvInteger is the slow path
        assert dynamic["speedup_vs_fp32"] < 0.95
    if dynamic["speedup_vs_fp32"] < 0.95:
        why = dynamic["slower_than_fp32"]
        assert why.startswith(f"{1 / dynamic['speedup_vs_fp32']:.1f}x slower than fp32: its op profile: ConvInteger")
        assert "dynamic int8 path of onnxruntime" in why and why[:60] in md
