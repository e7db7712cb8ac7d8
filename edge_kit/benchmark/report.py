"""Bench reports: bench.json, bench.md and a self-contained bench.html (inline SVG, opens offline)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edge_kit.fsutil import write_text_atomic
from edge_kit.report import svg

COLUMNS = ("", "cell", "size", "accuracy", "drop", "est. device p50", "emulated p50", "peak mem", "speedup", "note")


def _fmt(value: Any, pattern: str, missing: str = "—") -> str:
    return pattern.format(value) if isinstance(value, (int, float)) else missing


def columns(board: dict[str, Any]) -> tuple[str, ...]:
    """The leaderboard's columns: one more per device (measured p50 and the estimate's error)."""
    return COLUMNS[:-1] + tuple(f"{d['name']} p50 (est. err)" for d in board.get("devices") or []) + COLUMNS[-1:]


def _device_cell(result: dict[str, Any] | None) -> str:
    if not result:
        return "—"
    if result.get("measured_p50_ms") is None:
        return str(result.get("status") or "—")
    err = result.get("estimate_error_pct")
    return f"{result['measured_p50_ms']:.2f} ms" + (f" ({err:+.0f}%)" if err is not None else "")


def table_rows(board: dict[str, Any], icons: bool = True) -> list[list[str]]:
    """Leaderboard rows; `icons=False` spells the status out (HTML: no emoji font needed)."""
    names = [d["name"] for d in board.get("devices") or []]
    rows = []
    for r in board["rows"]:
        acc = r.get("accuracy") or {}
        est = r.get("estimate") or {}
        interval = (
            (" ±" if est.get("calibrated") else " uncalibrated ±") + f"{est['interval_pct']:.0f}%"
            if est.get("interval_pct")
            else ""
        ) + (" (extrapolated)" if est.get("extrapolated") else "")
        rows.append(
            [
                r["icon"] if icons else r["status"],
                r["cell"],
                _fmt((r.get("size_bytes") or 0) / 1e3 if r.get("size_bytes") else None, "{:.1f} kB"),
                _fmt(acc.get("value"), "{:.2f}%"),
                _fmt(acc.get("drop"), "{:+.2f}"),
                _fmt(r.get("estimated_ms"), "{:.2f} ms") + (interval if r.get("estimated_ms") else ""),
                _fmt(r.get("emulated_p50_ms"), "{:.1f} ms"),
                _fmt((r.get("peak_memory_kb") or 0) / 1024 if r.get("peak_memory_kb") else None, "{:.1f} MB"),
                _fmt(r.get("speedup_vs_fp32"), "{:.2f}×"),
                *(_device_cell((r.get("devices") or {}).get(n)) for n in names),
                r.get("reason", "")[:120],
            ]
        )
    return rows


def device_tables(board: dict[str, Any]) -> list[tuple[tuple[str, ...], list[list[str]]]]:
    """(headers, rows) of the device comparison and of the estimate-vs-measured errors."""
    devices = [
        [
            d["name"],
            d["address"],
            d.get("target") or "—",
            str(d["concurrency"]),
            f"{d.get('machine') or '?'} {','.join(d.get('cpu_parts') or [])}".strip(),
            f"{d['cells_measured']} ok, {d['cells_failed']} failed",
            _fmt(d.get("mean_abs_estimate_error_pct"), "{:.0f}%"),
        ]
        for d in board.get("devices") or []
    ]
    errors = [
        [
            e["cell"],
            e["device"],
            _fmt(e["estimated_ms"], "{:.3f} ms"),
            _fmt(e["measured_ms"], "{:.3f} ms"),
            _fmt(e["error_pct"], "{:+.1f}%"),
        ]
        for e in board.get("estimate_vs_measured") or []
    ]
    return [
        (("device", "address", "target", "jobs at once", "CPU seen", "cells", "mean abs. est. error"), devices),
        (("cell", "device", "estimated (emulated counts)", "measured p50", "estimate error"), errors),
    ]


def _text_table(headers: tuple[str, ...], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return [line(headers)] + [line(r) for r in rows]


def text(board: dict[str, Any]) -> str:
    head = [f"recommended: {board['recommended'] or 'none'} — {board['recommendation']}"]
    out = head + _text_table(columns(board), table_rows(board))
    if board.get("devices"):
        (dh, drows), (eh, erows) = device_tables(board)
        out += ["", "devices:"] + _text_table(dh, drows)
        out += ["", "estimate vs measured:"] + (_text_table(eh, erows) if erows else ["  (no cell has both)"])
    return "\n".join(out)


def markdown(board: dict[str, Any]) -> str:
    rows = table_rows(board)
    out = [
        f"# edgekit bench: {Path(board['model']).name} on {board['target']['name']}",
        "",
        f"**Recommended: {board['recommended'] or 'none'}** — {board['recommendation']}.",
        "",
        "Estimated device latency comes from instruction counts under the target's CPU model (see each "
        "cell's profile); emulated latency is QEMU wall time, not device time.",
        "",
        *_md_table(columns(board), rows),
    ]
    if board.get("devices"):
        (dh, drows), (eh, erows) = device_tables(board)
        out += [
            "",
            "## Devices",
            "",
            "Each cell's artifact profiled on each device over SSH "
            "(`edgekit profile --device`), one job per device at a time unless its `concurrency` says more.",
            "",
            *_md_table(dh, drows),
            "",
            "## Estimate vs measured",
            "",
            "The estimate from emulated instruction counts against the p50 measured on devices of the same "
            "target; error = (estimated - measured) / measured.",
            "",
            *_md_table(eh, erows),
        ]
    return "\n".join(out) + "\n"


def _md_table(headers: tuple[str, ...], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)] + [
        "| " + " | ".join(str(c).replace("|", "/") for c in r) + " |" for r in rows
    ]


def _points(board: dict[str, Any]) -> list[svg.Point]:
    points = []
    for r in board["rows"]:
        acc = (r.get("accuracy") or {}).get("value")
        x = r.get("estimated_ms") or r.get("emulated_p50_ms")
        if acc is not None and x:
            points.append(svg.Point(r["cell"], float(x), float(acc), r["cell"] == board["recommended"]))
    return points


def html(board: dict[str, Any]) -> str:
    rows, done = board["rows"], [r for r in board["rows"] if r.get("size_bytes")]
    basis = "estimated device p50 (ms)" if any(r.get("estimated_ms") for r in rows) else "emulated p50 (ms)"
    sections = [
        (
            "",
            f"<p><b>Recommended: {svg._esc(board['recommended'] or 'none')}</b> — "
            f"{svg._esc(board['recommendation'])}</p>" + svg.table(columns(board), table_rows(board, icons=False)),
        ),
        (
            "Latency vs accuracy",
            svg.scatter(
                _points(board), "latency vs accuracy (Pareto front in green)", basis, "accuracy / agreement (%)"
            ),
        ),
        (
            "Size",
            svg.bar_chart([r["cell"] for r in done], [r["size_bytes"] / 1e3 for r in done], "artifact size", "kB"),
        ),
        (
            "Memory",
            svg.bar_chart(
                [r["cell"] for r in done if r.get("peak_memory_kb")],
                [r["peak_memory_kb"] / 1024 for r in done if r.get("peak_memory_kb")],
                "peak memory over the bare runtime",
                "MB",
            ),
        ),
    ]
    if board.get("devices"):
        (dh, drows), (eh, erows) = device_tables(board)
        sections += [("Devices", svg.table(dh, drows)), ("Estimate vs measured", svg.table(eh, erows))]
    winner = next((r for r in rows if r["cell"] == board["recommended"]), None)
    if winner:
        sections.append((f"Per-op breakdown of the winner ({winner['cell']})", _winner_ops(winner)))
    return svg.page(f"edgekit bench: {Path(board['model']).name} on {board['target']['name']}", sections)


def _winner_ops(winner: dict[str, Any]) -> str:
    """Per-op time when the runtime measured it; else the plan's op types (counts, honestly labelled)."""
    ops = winner.get("ops") or {}
    timed = ops.get("by_op_type") or []
    if timed:
        return svg.bar_chart(
            [o["op"] for o in timed[:12]],
            [o["mean_us"] / 1000 for o in timed[:12]],
            "time per run by operator (emulated)",
            "ms",
        )
    types = sorted((ops.get("op_types") or {}).items(), key=lambda kv: -kv[1])
    note = f'<p class="note">{svg._esc(ops.get("note", "per-op timings not available"))}</p>'
    if not types:
        return note
    return note + svg.bar_chart(
        [k for k, _ in types], [float(v) for _, v in types], "operators in the execution plan (count, no timings)", ""
    )


def write_reports(board: dict[str, Any], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    write_text_atomic(folder / "bench.json", json.dumps(board, indent=2, default=str) + "\n")
    write_text_atomic(folder / "bench.md", markdown(board))
    write_text_atomic(folder / "bench.html", html(board))
