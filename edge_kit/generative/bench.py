"""`edgekit bench` of a causal LM: every format × precision exported, validated, profiled, ranked by tokens/s.

Each cell is an `export_generative` (8 greedy steps) and a generation profile on the target's
backend (host: measured; ARM targets: QEMU, emulated, with device estimates from instruction
counts). Ranking: cells that validated first, then by decode tokens/s — the device estimate
when there is one, else the profile's own figure (labelled emulated or measured).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edge_kit.errors import EdgeKitError

FORMATS = ("executorch", "onnx")
PRECISIONS = ("fp32", "int8", "int4")


def _cell(model: Any, fmt: str, precision: str, folder: Path, options: dict[str, Any]) -> dict[str, Any]:
    from edge_kit.generative.request import FORMATS as SUFFIX
    from edge_kit.generative.request import export_generative
    from edge_kit.profiler import ProfileRequest
    from edge_kit.profiler import profile as run_profile

    row: dict[str, Any] = {"format": fmt, "precision": precision}
    dest = folder / f"{fmt}_{precision}{SUFFIX[fmt]}"
    try:
        result = export_generative(
            model,
            format=fmt,
            target=options["target"],
            quantize=precision,
            output=dest,
            cache_len=options["cache_len"],
            allow_mismatch=True,
        )
    except EdgeKitError as exc:
        return {**row, "status": "failed", "error": exc.one_line()}
    manifest = result.manifest
    check = manifest["validation"]
    row |= {
        "artifact": str(dest),
        "size_bytes": manifest["artifact"]["size_bytes"],
        "status": manifest["status"],
        "greedy": f"{check['matched_steps']}/{check['steps']}",
    }
    req = ProfileRequest(
        artifact=dest,
        target=options["target"],
        num_runs=options["num_runs"],
        num_threads=options["num_threads"],
        prompt_len=options["prompt_len"],
        new_tokens=options["new_tokens"],
    )
    try:
        report = run_profile(req)
    except EdgeKitError as exc:
        return {**row, "profile_error": exc.one_line()}
    (folder / f"{dest.name}.profile.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    est = report["estimate"]
    row |= {
        "kind": report["kind"],
        "ttft_ms": report["prefill"]["ttft_p50_ms"],
        "decode_tokens_per_s": report["decode"]["tokens_per_s"],
        "peak_rss_kb": report["memory"]["peak_rss_kb"],
        "estimated_decode_tokens_per_s": est.get("decode_tokens_per_s") if est.get("available") else None,
        "estimated_ttft_ms": est["prefill"]["estimated_ms"] if est.get("available") else None,
    }
    return row


def rank(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Validated cells first, then the fastest decode (estimate if any, else the profile's figure)."""

    def key(row: dict[str, Any]) -> tuple[int, float]:
        speed = row.get("estimated_decode_tokens_per_s") or row.get("decode_tokens_per_s") or 0.0
        return (0 if row.get("status") == "ok" and speed else 1, -float(speed))

    ranked = sorted(rows, key=key)
    fp32 = {r["format"]: r.get("size_bytes") for r in rows if r["precision"] == "fp32"}
    for i, row in enumerate(ranked, 1):
        row["rank"] = i
        base = fp32.get(row["format"])
        row["size_vs_fp32"] = round(row["size_bytes"] / base, 3) if base and row.get("size_bytes") else None
    return ranked


def bench_generative(
    model: Any,
    *,
    output: Path,
    target: str = "host",
    formats: list[str] | None = None,
    precisions: list[str] | None = None,
    cache_len: int = 128,
    prompt_len: int = 32,
    new_tokens: int = 32,
    num_runs: int = 3,
    num_threads: int | None = None,
) -> dict[str, Any]:
    """Every format × precision of a causal LM, ranked by decode tokens/s; bench.json and bench.md in `output`."""
    from edge_kit.fsutil import write_text_atomic
    from edge_kit.registry import get_format

    output.mkdir(parents=True, exist_ok=True)
    options = {"target": target, "cache_len": cache_len, "prompt_len": prompt_len, "new_tokens": new_tokens}
    options |= {"num_runs": num_runs, "num_threads": num_threads}
    fmts = [get_format(f).name for f in (formats or FORMATS)]
    rows = [_cell(model, f, p, output, options) for f in fmts for p in (precisions or PRECISIONS)]
    board = {
        "schema": "edgekit.generative-bench",
        "schema_version": 1,
        "model": str(model) if isinstance(model, str | Path) else type(model).__name__,
        "target": target,
        "settings": {k: v for k, v in options.items() if k != "target"},
        "ranking": "validated cells first, then decode tokens/s (the device estimate when there is one)",
        "rows": rank(rows),
    }
    write_text_atomic(output / "bench.json", json.dumps(board, indent=2, default=str) + "\n")
    write_text_atomic(output / "bench.md", markdown(board))
    return board


def _num(value: Any, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def markdown(board: dict[str, Any]) -> str:
    lines = [
        f"# Generative bench: {board['model']} on {board['target']}",
        "",
        f"Ranking: {board['ranking']}. Settings: {board['settings']}.",
        "",
        "| rank | format | precision | status | greedy | size MB | vs fp32 | TTFT ms | decode tok/s | est. tok/s |",
        "|---:|---|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in board["rows"]:
        size = r.get("size_bytes")
        lines.append(
            f"| {r['rank']} | {r['format']} | {r['precision']} | {r['status']} | {r.get('greedy', 'n/a')} | "
            f"{_num(size / 1e6 if size else None, '.1f')} | {_num(r.get('size_vs_fp32'), '.3f')} | "
            f"{_num(r.get('ttft_ms'), '.1f')} | {_num(r.get('decode_tokens_per_s'), '.1f')} "
            f"({r.get('kind', 'n/a')}) | {_num(r.get('estimated_decode_tokens_per_s'), '.1f')} |"
        )
    errors = [f"- {r['format']} {r['precision']}: {r.get('error') or r.get('profile_error')}" for r in board["rows"]]
    errors = [e for e, r in zip(errors, board["rows"]) if r.get("error") or r.get("profile_error")]
    return "\n".join(lines + ([""] + errors if errors else [])) + "\n"


def text(board: dict[str, Any]) -> str:
    """The terminal summary: the ranked table."""
    return markdown(board)
