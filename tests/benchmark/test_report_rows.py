"""Leaderboard rows as text: an emulated target's attempts (estimates without their interval) under their cell."""

from __future__ import annotations

from edge_kit.benchmark.report import columns, table_rows


def _attempt(recipe: str, ms: float, status: str, chosen: bool = False) -> dict:
    return {
        "recipe": recipe, "keep_float": [], "mixed_precision": False, "status": status, "chosen": chosen,
        "device_p50_ms": ms, "device_latency_kind": "estimated", "emulated_p50_ms": ms * 40, "size_bytes": 4_000_000,
        "agreement": {"metric": "top1_agreement", "value": 81.5, "interval95": [77.4, 85.0], "samples": 400},
        "reason": "", "note": "", "requantizations": None,
    }  # fmt: skip


def test_emulated_attempts_show_their_estimate_and_verdict_under_the_cell():
    row = {
        "icon": "❎", "status": "outside", "cell": "tflite-int8", "format": "tflite", "precision": "int8",
        "recipe": "litert_pt2e_int8_static_per_channel_equalized", "keep_float": [], "size_bytes": 4_000_000,
        "agreement": {"metric": "top1_agreement", "value": 81.5, "interval95": [77.4, 85.0], "samples": 400},
        "device_p50_ms": 17.04, "device_latency_kind": "estimated", "emulated_p50_ms": 700.0,
        "estimate": {"interval_pct": 15, "calibrated": True}, "peak_memory_kb": 20480, "speedup_vs_fp32": 2.1,
        "reason": "agreement 81.50% < 90% minimum", "note": "",
        "attempts": [_attempt("litert_pt2e_int8_static_per_channel", 16.5, "outside"),
                     _attempt("litert_pt2e_int8_static_per_channel_equalized", 17.04, "outside", chosen=True)],
    }  # fmt: skip
    board = {"rows": [row], "criterion": {"metric": "agreement"}}
    assert columns(board)[4:7] == ("agreement (95% CI)", "est. device p50", "emulated p50")
    cell, first, kept = table_rows(board)
    assert cell[5] == "17.04 ms ±15%" and cell[6] == "700.0 ms"
    assert first[1] == "  ↳ 1" and first[5] == "16.50 ms" and first[-1].startswith("❎ outside")
    assert kept[1] == "  ↳ 2 (kept)" and kept[4] == "81.50% (77.4-85.0)"
    assert table_rows(board, icons=False)[1][-1].startswith("outside")  # spelled once, no icon
