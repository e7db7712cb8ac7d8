"""Render a generation profile report: a terminal summary, profile.md and a self-contained profile.html."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edge_kit.fsutil import atomic_path


def _ms(phase: dict[str, Any] | None) -> str:
    if not phase:
        return "n/a"
    return f"{phase['estimated_ms']:.1f} ms ({phase['low_ms']:.1f}-{phase['high_ms']:.1f})"


def _rate(phase: dict[str, Any] | None, tokens: int) -> str:
    return f"{tokens * 1e3 / phase['estimated_ms']:.1f}" if phase and phase["estimated_ms"] > 0 else "n/a"


def where_line(r: dict[str, Any]) -> str:
    backend = r["backend"]
    via = f"{r['target']['name']} via {backend['name']}"
    if backend.get("emulated"):
        return f"{via} ({backend.get('qemu_cpu')}, emulated: timings are QEMU wall time, not device time)"
    return f"{via} (measured)"


def summary_text(r: dict[str, Any]) -> str:
    art, pre, dec, est = r["artifact"], r["prefill"], r["decode"], r["estimate"]
    size = f"{art['size_bytes'] / 1e6:.2f} MB"
    lines = [
        f"{art['file']} ({art['format']}, {art.get('precision') or 'precision unknown'}, {size}, "
        f"cache {art['cache_len']}) on {where_line(r)}",
        f"  load {r['load_ms']:.0f} ms; {r['kind']} prefill of {pre['prompt_len']} tokens (TTFT) "
        f"{pre['ttft_p50_ms']:.1f} ms; {r['kind']} decode {dec['ms_per_token_p50']:.2f} ms/token = "
        f"{dec['tokens_per_s']:.1f} tokens/s",
        f"  memory: peak RSS {(r['memory'].get('peak_rss_kb') or 0) / 1024:.1f} MB (KV cache included)",
    ]
    if est.get("available"):
        lines.append(
            f"  estimated on {est['device']}: prefill {_ms(est['prefill'])}, decode "
            f"{_ms(est['decode_per_token'])} per token = {est['decode_tokens_per_s']:.1f} tokens/s (an estimate)"
        )
    else:
        lines.append(f"  device estimate: not available ({est.get('reason')})")
    return "\n".join(lines)


def _context(r: dict[str, Any]) -> dict[str, Any]:
    return {"r": r, "where": where_line(r), "phase_ms": _ms, "phase_rate": _rate}


def markdown(r: dict[str, Any]) -> str:
    from edge_kit.profiler.report import TEMPLATES

    return TEMPLATES.render("generation.md.j2", **_context(r))


def html(r: dict[str, Any]) -> str:
    from edge_kit.profiler.report import TEMPLATES

    title = f"edgekit generation profile: {r['artifact']['file']} on {r['target']['name']}"
    return TEMPLATES.render("generation.html.j2", **_context(r), title=title)


def write_report_dir(r: dict[str, Any], folder: Path) -> Path:
    """profile.json, profile.md and profile.html into `folder`, atomically."""
    with atomic_path(Path(folder), directory=True) as tmp:
        (tmp / "profile.json").write_text(json.dumps(r, indent=2, default=str) + "\n")
        (tmp / "profile.md").write_text(markdown(r))
        (tmp / "profile.html").write_text(html(r))
    return Path(folder)
