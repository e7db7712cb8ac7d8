"""Render a profile report: a terminal summary, `profile.md` and a self-contained `profile.html`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edge_kit.fsutil import atomic_path
from edge_kit.report.templates import Templates, markup, number

GENERATION = "edgekit.generation-profile"  # a generative decoder's report (edge_kit/generative/report.py)


def _kb(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value / 1024:.1f} MB" if abs(value) >= 1024 else f"{value:.0f} kB"


def _size(nbytes: int) -> str:
    return f"{nbytes / 1e6:.2f} MB" if nbytes >= 1e6 else f"{nbytes / 1e3:.1f} kB"


def estimate_line(report: dict[str, Any]) -> str:
    """'estimated on Raspberry Pi 4: 17.3 ms (±15%)' or why there is no estimate."""
    est = report.get("estimate")
    if not est and report["backend"].get("device"):
        return f"measured on the device {report['backend']['device']} (real hardware: no estimate needed)"
    if not est:
        return "device estimate: not available (no instruction counts: use the qemu backend)"
    from edge_kit.estimate import format_estimate
    from edge_kit.targets import get_target

    return format_estimate(est, get_target(report["target"]["name"]))


def latency_line(report: dict[str, Any]) -> str:
    lat = report["latency"]
    label = "emulated latency (QEMU wall time, not device time)" if lat["kind"] == "emulated" else "measured latency"
    return (
        f"{label}: p50 {lat['p50_ms']:.2f} ms, p90 {lat['p90_ms']:.2f} ms, mean {lat['mean_ms']:.2f} ms, "
        f"min {lat['min_ms']:.2f} ms (n={lat['count']}); load {lat['load_ms']:.0f} ms, "
        f"first inference {lat['first_inference_ms']:.1f} ms"
    )


def op_rows(report: dict[str, Any], limit: int = 15) -> list[tuple[str, float, float]]:
    """(op, time ms per run, share %) rows, slowest first, when the runtime gave per-op figures."""
    rows = (report.get("ops") or {}).get("by_op_type") or []
    return [(str(r["op"]), float(r["mean_us"]) / 1000.0, 100.0 * float(r["share"])) for r in rows[:limit]]


def estimated_op_rows(report: dict[str, Any], limit: int = 15) -> tuple[list[tuple[str, float]], str]:
    """(op, estimated device ms) rows and how they were apportioned, from the estimate section."""
    per_op = ((report.get("estimate") or {}).get("per_operator")) or {}
    rows = [(f"{r['op']} {r.get('node') or ''}".strip(), float(r["ms"])) for r in per_op.get("rows", [])[:limit]]
    return rows, per_op.get("method", "")


def summary_text(report: dict[str, Any]) -> str:
    if report.get("schema") == GENERATION:
        from edge_kit.generative.report import summary_text as generation_summary

        return generation_summary(report)
    art, tgt, backend = report["artifact"], report["target"], report["backend"]
    lines = [
        f"{art['file']} ({art['format']}, {art.get('precision') or 'precision unknown'}, "
        f"{_size(art['size_bytes'])}) on {tgt['name']} via {backend['name']}"
        + (
            f" ({backend.get('qemu_cpu')}, emulated)"
            if backend.get("emulated")
            else f" ({backend['device']}, {report['machine'].get('machine')})"
            if backend.get("device")
            else ""
        ),
        f"  {estimate_line(report)}",
        f"  {latency_line(report)}",
    ]
    mem = report["memory"]
    lines.append(
        f"  memory: peak RSS {_kb(mem.get('peak_rss_kb'))}, +{_kb(mem.get('peak_over_runtime_kb'))} "
        "over the bare runtime" + (" (QEMU process)" if backend.get("emulated") else "")
    )
    ins = report.get("instructions")
    if ins and ins.get("per_inference"):
        top = sorted(ins["per_inference"].items(), key=lambda kv: -kv[1])[:5]
        lines.append(
            f"  instructions per inference: {ins['per_inference_total']:,.0f} ("
            + ", ".join(f"{k} {v:,.0f}" for k, v in top)
            + ")"
        )
    rows = op_rows(report, 5)
    if rows:
        lines.append("  slowest ops: " + ", ".join(f"{op} {share:.0f}%" for op, _, share in rows))
    else:
        lines.append(f"  per-op: {(report.get('ops') or {}).get('note', 'not available')}")
    return "\n".join(lines)


TEMPLATES = Templates("edge_kit.report", filters={"kb": _kb, "size": _size, "num": number})


def instruction_rows(report: dict[str, Any]) -> list[tuple[str, float]]:
    """(instruction class, count per inference), most frequent first, zeros left out."""
    per = (report.get("instructions") or {}).get("per_inference") or {}
    return [(k, v) for k, v in sorted(per.items(), key=lambda kv: -kv[1]) if v]


def _context(report: dict[str, Any]) -> dict[str, Any]:
    est_rows, method = estimated_op_rows(report)
    return {
        "r": report,
        "estimate": estimate_line(report),
        "latency": latency_line(report),
        "instructions": instruction_rows(report),
        "ops": op_rows(report),
        "ops_note": (report.get("ops") or {}).get("note", "not available"),
        "estimated_ops": est_rows,
        "method": method,
    }


def markdown(report: dict[str, Any]) -> str:
    return TEMPLATES.render("profile.md.j2", **_context(report))


def charts(report: dict[str, Any]) -> dict[str, Any]:
    """The report's inline SVG charts by name (None where there is nothing to plot)."""
    from edge_kit.report import plots

    lat, mem, art = report["latency"], report["memory"], report["artifact"]
    ops, (est_rows, _), ins = op_rows(report), estimated_op_rows(report), instruction_rows(report)
    memory = {
        "peak RSS": (mem.get("peak_rss_kb") or 0) / 1024,
        "bare runtime": (mem.get("rss_runtime_kb") or 0) / 1024,
        "increase over runtime": (mem.get("peak_over_runtime_kb") or 0) / 1024,
        "model file": art["size_bytes"] / 2**20,
    }
    svgs = {
        "latency": plots.histogram(lat["samples_ms"], f"{lat['kind']} latency per run"),
        "ops": ops
        and plots.bar_chart([o for o, _, _ in ops], [m for _, m, _ in ops], "time per run by operator", "ms"),
        "estimated_ops": est_rows
        and plots.bar_chart(
            [o for o, _ in est_rows], [m for _, m in est_rows], "estimated device time by operator", "ms"
        ),
        "memory": plots.bar_chart(list(memory), list(memory.values()), "memory", "MB"),
        "instructions": ins and plots.bar_chart([k for k, _ in ins], [v for _, v in ins], "instructions by class"),
    }
    return {name: markup(svg) if svg else None for name, svg in svgs.items()}


def html(report: dict[str, Any]) -> str:
    title = f"edgekit profile: {report['artifact']['file']} on {report['target']['name']}"
    return TEMPLATES.render("profile.html.j2", **_context(report), title=title, charts=charts(report))


def write_report_dir(report: dict[str, Any], folder: Path) -> Path:
    """Write profile.json, profile.md and profile.html into `folder`, atomically."""
    if report.get("schema") == GENERATION:
        from edge_kit.generative.report import write_report_dir as write_generation

        return write_generation(report, folder)
    with atomic_path(Path(folder), directory=True) as tmp:
        (tmp / "profile.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
        (tmp / "profile.md").write_text(markdown(report))
        (tmp / "profile.html").write_text(html(report))
    return Path(folder)
