"""Bench reports: bench.json, bench.md and a self-contained bench.html (inline SVG, opens offline)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edge_kit.fsutil import write_text_atomic
from edge_kit.report.templates import Templates, markup

TEMPLATES = Templates("edge_kit.report")

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


def _context(board: dict[str, Any], icons: bool) -> dict[str, Any]:
    tables = (
        [{"headers": h, "rows": rows} for h, rows in device_tables(board)] if board.get("devices") else [None, None]
    )
    return {
        "title": f"edgekit bench: {Path(board['model']).name} on {board['target']['name']}",
        "board": board,
        "columns": columns(board),
        "rows": table_rows(board, icons=icons),
        "devices": tables[0],
        "errors": tables[1],
    }


def markdown(board: dict[str, Any]) -> str:
    return TEMPLATES.render("bench.md.j2", **_context(board, icons=True))


def _points(board: dict[str, Any]) -> list[Any]:
    from edge_kit.report.plots import Point

    points = []
    for r in board["rows"]:
        acc = (r.get("accuracy") or {}).get("value")
        x = r.get("estimated_ms") or r.get("emulated_p50_ms")
        if acc is not None and x:
            points.append(Point(r["cell"], float(x), float(acc), r["cell"] == board["recommended"]))
    return points


def charts(board: dict[str, Any], winner: dict[str, Any] | None) -> dict[str, Any]:
    """The leaderboard's inline SVG charts by name (None where there is nothing to plot)."""
    from edge_kit.report import plots

    rows, done = board["rows"], [r for r in board["rows"] if r.get("size_bytes")]
    basis = "estimated device p50 (ms)" if any(r.get("estimated_ms") for r in rows) else "emulated p50 (ms)"
    mem = [r for r in done if r.get("peak_memory_kb")]
    svgs = {
        "scatter": plots.scatter(
            _points(board), "latency vs accuracy (Pareto front in green)", basis, "accuracy / agreement (%)"
        ),
        "size": plots.bar_chart(
            [r["cell"] for r in done], [r["size_bytes"] / 1e3 for r in done], "artifact size", "kB"
        ),
        "memory": plots.bar_chart(
            [r["cell"] for r in mem],
            [r["peak_memory_kb"] / 1024 for r in mem],
            "peak memory over the bare runtime",
            "MB",
        ),
        "winner": _winner_chart(winner) if winner else None,
    }
    return {name: markup(svg) if svg else None for name, svg in svgs.items()}


def _winner_chart(winner: dict[str, Any]) -> str | None:
    """Per-op time when the runtime measured it; else the plan's op types (counts, honestly labelled)."""
    from edge_kit.report import plots

    ops = winner.get("ops") or {}
    timed = (ops.get("by_op_type") or [])[:12]
    if timed:
        labels, values = [o["op"] for o in timed], [o["mean_us"] / 1000 for o in timed]
        return plots.bar_chart(labels, values, "time per run by operator (emulated)", "ms")
    types = sorted((ops.get("op_types") or {}).items(), key=lambda kv: -kv[1])
    if not types:
        return None
    title = "operators in the execution plan (count, no timings)"
    return plots.bar_chart([k for k, _ in types], [float(v) for _, v in types], title)


def _winner_note(winner: dict[str, Any] | None) -> str | None:
    ops = (winner or {}).get("ops") or {}
    return None if not winner or ops.get("by_op_type") else ops.get("note", "per-op timings not available")


def html(board: dict[str, Any]) -> str:
    winner = next((r for r in board["rows"] if r["cell"] == board["recommended"]), None)
    return TEMPLATES.render(
        "bench.html.j2",
        **_context(board, icons=False),
        charts=charts(board, winner),
        winner=winner and winner["cell"],
        winner_note=_winner_note(winner),
    )


def write_reports(board: dict[str, Any], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    write_text_atomic(folder / "bench.json", json.dumps(board, indent=2, default=str) + "\n")
    write_text_atomic(folder / "bench.md", markdown(board))
    write_text_atomic(folder / "bench.html", html(board))
