"""Bench reports: bench.json, bench.md and a self-contained bench.html (inline SVG, opens offline).

Quality is worded as what it is: *accuracy* (and its drop) when the eval set has labels,
*agreement* with the fp32 source when it does not, each with its 95% interval. Latency is
*measured* (target host, devices) or *estimated* (emulated instruction counts); emulated wall
time only ever appears as emulated. Each searched cell lists its attempts under it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edge_kit.benchmark.leaderboard import quality_of
from edge_kit.fsutil import write_text_atomic
from edge_kit.report.templates import Templates, markup

TEMPLATES = Templates("edge_kit.report")
NOTE_CHARS = 160


def _fmt(value: Any, pattern: str, missing: str = "—") -> str:
    return pattern.format(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else missing


def _metric(board: dict[str, Any]) -> str:
    """'accuracy' or 'agreement' (what the board's quality column holds)."""
    kind = (board.get("criterion") or {}).get("metric")
    if kind:
        return str(kind)
    return "accuracy" if any(r.get("accuracy") for r in board["rows"]) else "agreement"


def _emulated(board: dict[str, Any]) -> bool:
    return any(r.get("emulated_p50_ms") for r in board["rows"])


def _device_header(board: dict[str, Any]) -> str:
    kinds = {_device(r)[1] for r in board["rows"] if _device(r)[0] is not None}
    if kinds == {"measured"}:
        return "device p50 (measured)"
    return "est. device p50" if kinds <= {"estimated"} else "device p50"


def _baseline(board: dict[str, Any]) -> dict[str, Any] | None:
    base = board.get("baseline") or {}
    return base if base.get("measured") else None


def columns(board: dict[str, Any]) -> tuple[str, ...]:
    """The leaderboard's columns: quality as accuracy or agreement, device latency as measured or
    estimated, emulated time only when there is some, one more per device and one for the baseline."""
    metric = _metric(board)
    cols = ["", "cell", "variant", "size", f"{metric} (95% CI)"] + (["drop"] if metric == "accuracy" else [])
    cols += [_device_header(board)] + (["emulated p50"] if _emulated(board) else []) + ["peak mem", "vs fp32"]
    base = _baseline(board)
    if base:
        cols.append(f"vs {base['runner'].split(' (')[0]}")
    cols += [f"{d['name']} p50 (est. err)" for d in board.get("devices") or []]
    return (*cols, "note")


def _device(r: dict[str, Any]) -> tuple[float | None, str]:
    """(device latency, 'measured' | 'estimated') of a row or attempt; old boards carry only the estimate."""
    if r.get("device_p50_ms") is not None:
        return float(r["device_p50_ms"]), str(r.get("device_latency_kind") or "estimated")
    if r.get("estimated_ms"):
        return float(r["estimated_ms"]), "estimated"
    return None, ""


def _device_cell(r: dict[str, Any]) -> str:
    value, kind = _device(r)
    if value is None:
        return "—"
    est = r.get("estimate") or {}
    if kind == "measured":
        return f"{value:.2f} ms"
    pct = est.get("interval_pct")
    interval = ((" ±" if est.get("calibrated") else " uncalibrated ±") + f"{pct:.0f}%") if pct else ""
    return f"{value:.2f} ms" + interval + (" (extrapolated)" if est.get("extrapolated") else "")


def _quality_cell(q: dict[str, Any] | None) -> str:
    if not q or q.get("value") is None:
        return "—"
    low_high = q.get("interval95")
    text = f"{q['value']:.2f}%" + (f" ({low_high[0]:.1f}-{low_high[1]:.1f})" if low_high else "")
    return text + (" on validation inputs" if q.get("data") == "validation inputs" else "")


def _variant_cell(r: dict[str, Any]) -> str:
    recipe = r.get("recipe") or ("—" if r.get("precision") == "fp32" else "default")
    kept = r.get("keep_float") or []
    return recipe + (f" + {len(kept)} layer(s) in float" if kept else "")


def _note(*parts: Any) -> str:
    return "; ".join(str(p) for p in parts if p)[:NOTE_CHARS]


def _device_result(result: dict[str, Any] | None) -> str:
    if not result:
        return "—"
    if result.get("measured_p50_ms") is None:
        return str(result.get("status") or "—")
    err = result.get("estimate_error_pct")
    return f"{result['measured_p50_ms']:.2f} ms" + (f" ({err:+.0f}%)" if err is not None else "")


def _search_note(r: dict[str, Any]) -> str:
    search = r.get("search") or {}
    if search.get("skipped"):
        return f"not searched: {search['skipped']}"
    if not search.get("ran"):
        return ""
    stopped = f", stopped by --search-time {search['search_time']:g} s" if search.get("stopped_by") else ""
    return f"searched {len(search.get('variants') or [])} more variant(s) in {search['seconds'] / 60:.1f} min{stopped}"


def table_rows(board: dict[str, Any], icons: bool = True) -> list[list[str]]:
    """Leaderboard rows, each searched cell's attempts under it; `icons=False` spells the status out
    (HTML: no emoji font needed)."""
    metric, emulated, base = _metric(board), _emulated(board), _baseline(board)
    names = [d["name"] for d in board.get("devices") or []]
    rows = []
    for r in board["rows"]:
        q = quality_of(r)
        cells = [r["icon"] if icons else r["status"], r["cell"], _variant_cell(r)]
        cells += [
            _fmt((r.get("size_bytes") or 0) / 1e3 if r.get("size_bytes") else None, "{:.1f} kB"),
            _quality_cell(q),
        ]
        cells += [_fmt((q or {}).get("drop"), "{:+.2f}")] if metric == "accuracy" else []
        cells += [_device_cell(r)] + ([_fmt(r.get("emulated_p50_ms"), "{:.1f} ms")] if emulated else [])
        cells += [_fmt((r.get("peak_memory_kb") or 0) / 1024 if r.get("peak_memory_kb") else None, "{:.1f} MB")]
        cells += [_fmt(r.get("speedup_vs_fp32"), "{:.2f}x")]
        cells += [_fmt(r.get("speedup_vs_baseline"), "{:.2f}x")] if base else []
        cells += [_device_result((r.get("devices") or {}).get(n)) for n in names]
        rows.append([*cells, _note(r.get("reason"), r.get("note"), r.get("slower_than_fp32"), _search_note(r))])
        rows += [
            _attempt_row(a, i, metric, emulated, bool(base), len(names), icons)
            for i, a in enumerate(r.get("attempts") or [])
        ]
    return rows


def _attempt_row(
    a: dict[str, Any], i: int, metric: str, emulated: bool, base: bool, devices: int, icons: bool
) -> list[str]:
    """One attempt under its cell: recipe, layers kept in float, quality, latency, verdict."""
    q = quality_of(a)
    mark = {"ok": "✅", "outside": "❎", "failed": "❌"}.get(a["status"], "") if icons else ""
    variant = _variant_cell(a) + (" (mixed-precision search)" if a.get("mixed_precision") else "")
    cells = ["", f"  ↳ {i + 1}{' (kept)' if a.get('chosen') else ''}", variant]
    cells += [_fmt((a.get("size_bytes") or 0) / 1e3 if a.get("size_bytes") else None, "{:.1f} kB"), _quality_cell(q)]
    cells += [_fmt((q or {}).get("drop"), "{:+.2f}")] if metric == "accuracy" else []
    cells += [_device_cell(a)] + ([_fmt(a.get("emulated_p50_ms"), "{:.1f} ms")] if emulated else [])
    cells += ["", ""] + ([""] if base else []) + [""] * devices
    requant = f"{a['requantizations']} re-quantizations" if a.get("requantizations") else ""
    return [*cells, _note(f"{mark} {a['status']}".strip(), a.get("reason"), a.get("note"), requant)]


def _ms(value: Any) -> str:
    return _fmt(value, "{:.2f} ms")


def int8_lines(board: dict[str, Any]) -> list[str]:
    """Per format: the int8 variant kept against fp32 (ranking basis, and the same-run session), and
    why when it is slower."""
    lines = []
    for e in board.get("int8_vs_fp32") or []:
        fp32, int8 = _ms(e.get("fp32_ms")), _ms(e.get("int8_ms"))
        line = f"{e['format']}: int8 {_fmt(e.get('speedup'), '{:.2f}x')} vs fp32 ({fp32} -> {int8}, {e['basis']})"
        same = e.get("same_run")
        if same:
            line += f"; interleaved in one process: {same['speedup']:.2f}x"
            line += f" ({same['fp32_ms']:.2f} -> {same['int8_ms']:.2f} ms)"
        if e.get("int8_status") == "outside":
            line += "; that int8 variant is outside the budget"
        if e.get("why_slower"):
            line += f". {e['why_slower']}"
        lines.append(line)
    return lines


def summary(board: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, text) lines above the table: how variants were judged and ranked, the baseline, warnings."""
    out = [
        ("Judged", str((board.get("criterion") or {}).get("text") or "")),
        ("Ranked on", str(board.get("ranked_on") or "")),
    ]
    base = board.get("baseline") or {}
    if base.get("measured"):
        out.append(
            (
                "Baseline",
                f"{base['runner']}, {base['threads']} thread(s): p50 {base['p50_ms']:.2f} ms, timed in one process "
                f"with every variant kept, interleaved ({base['rounds']} rounds)",
            )
        )
        out += [("Baseline", f"{name}: {why}") for name, why in (base.get("failed") or {}).items()]
    elif base.get("reason"):
        out.append(("Baseline", f"not measured: {base['reason']}"))
    out += [("int8 vs fp32", line) for line in int8_lines(board)]
    out += [("Warning", w) for w in board.get("warnings") or []]
    return [(k, v) for k, v in out if v]


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
    head += [f"{label.lower()}: {line}" for label, line in summary(board)]
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
        "summary": summary(board),
        "emulated": _emulated(board),
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
        value = (quality_of(r) or {}).get("value")
        x = _device(r)[0] or r.get("emulated_p50_ms")
        if value is not None and x:
            points.append(Point(r["cell"], float(x), float(value), r["cell"] == board["recommended"]))
    return points


def charts(board: dict[str, Any], winner: dict[str, Any] | None) -> dict[str, Any]:
    """The leaderboard's inline SVG charts by name (None where there is nothing to plot)."""
    from edge_kit.report import plots

    rows, done = board["rows"], [r for r in board["rows"] if r.get("size_bytes")]
    kinds = {_device(r)[1] for r in rows if _device(r)[0] is not None}
    basis = (
        "measured p50 (ms)" if kinds == {"measured"} else "estimated device p50 (ms)" if kinds else "emulated p50 (ms)"
    )
    metric = _metric(board)
    y_label = "top-1 accuracy (%)" if metric == "accuracy" else "top-1 agreement with fp32 (%)"
    mem = [r for r in done if r.get("peak_memory_kb")]
    svgs = {
        "scatter": plots.scatter(_points(board), f"latency vs {metric} (Pareto front in green)", basis, y_label),
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
        kind = "measured" if winner.get("latency_kind") == "measured" else "emulated"
        labels, values = [o["op"] for o in timed], [o["mean_us"] / 1000 for o in timed]
        return plots.bar_chart(labels, values, f"time per run by operator ({kind})", "ms")
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


def board_text(board: dict[str, Any]) -> str:
    """bench.json's text; a leaderboard edgekit could not read back as its documented type is never written."""
    from pydantic import ValidationError

    from edge_kit.documents.base import problem
    from edge_kit.documents.bench import Leaderboard

    text = json.dumps(board, indent=2, default=str) + "\n"
    try:
        Leaderboard.model_validate(json.loads(text))
    except ValidationError as exc:
        raise RuntimeError(
            f"edgekit built an invalid leaderboard: {problem(exc, Leaderboard, tables=False)[0]}"
        ) from exc
    return text


def write_reports(board: dict[str, Any], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    write_text_atomic(folder / "bench.json", board_text(board))
    write_text_atomic(folder / "bench.md", markdown(board))
    write_text_atomic(folder / "bench.html", html(board))
