"""The leaderboard: one row per cell (the variant it kept, with the attempts under it), read back
from each variant's own manifest and profile report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edge_kit.benchmark.cells import FAILED, ICONS, OK, OUTSIDE
from edge_kit.benchmark.criterion import ACCURACY, AGREEMENT, Criterion
from edge_kit.benchmark.figures import load_json, profile_of, rank_ms, variant_figures
from edge_kit.documents.bench import SCHEMA, SCHEMA_VERSION
from edge_kit.targets import Target

FIGURES = (
    "size_bytes",
    "max_abs_diff",
    "latency_kind",
    "measured_p50_ms",
    "emulated_p50_ms",
    "estimated_ms",
    "estimate",
    "device_p50_ms",
    "device_latency_kind",
    "threads",
)


def quality_of(row: dict[str, Any]) -> dict[str, Any] | None:
    """A row's (or attempt's) quality: its `accuracy` (labels) or its `agreement` (no labels)."""
    return row.get("accuracy") or row.get("agreement")


def _with_quality(out: dict[str, Any], figs: dict[str, Any]) -> None:
    q = figs.get("quality")
    if q:
        out[ACCURACY if q["metric"] == "top1_accuracy" else AGREEMENT] = q


def _attempt(record: dict[str, Any], figs: dict[str, Any], chosen: bool) -> dict[str, Any]:
    """One attempt under its cell: what was tried and what it gave."""
    out = {
        "variant": record["dir"].removeprefix("attempts/") if record.get("dir") else "default",
        "recipe": figs.get("recipe") or record["variant"].get("recipe"),
        "mixed_precision": record["variant"].get("max_drop") is not None,
        "keep_float": figs.get("keep_float", []),
        "quantizable_layers": figs.get("quantizable_layers"),
        "requantizations": figs.get("requantizations"),
        "status": FAILED if record["status"] == FAILED else figs.get("judged", OUTSIDE),
        "reason": record["reason"] if record["status"] == FAILED else figs.get("reason", ""),
        "note": figs.get("note", ""),
        "chosen": chosen,
        "folder": record.get("dir") or ".",
        "wall_s": record.get("wall_s"),
        **{k: figs.get(k) for k in ("size_bytes", "device_p50_ms", "device_latency_kind", "emulated_p50_ms")},
    }
    _with_quality(out, figs)
    return out


def _row(cell: dict[str, Any], folder: Path, criterion: Criterion, target: str) -> dict[str, Any]:
    vdir = folder / cell.get("variant_dir", "")
    row: dict[str, Any] = {
        "cell": cell["cell"],
        "format": cell["format"],
        "precision": cell["precision"],
        "status": cell["status"],
        "reason": cell.get("reason", ""),
        "cached": cell.get("cached", False),
        "folder": str(vdir),
    }
    figs = variant_figures(vdir, Path(cell["artifact"]).name, criterion)
    if figs:
        row.update({k: figs.get(k) for k in FIGURES}, recipe=figs.get("recipe"), keep_float=figs.get("keep_float"))
        row["note"] = figs.get("note", "")
        _with_quality(row, figs)
    profile = profile_of(vdir)
    if profile:
        row.update(peak_memory_kb=profile["memory"].get("peak_over_runtime_kb"), ops=profile.get("ops"))
    attempts = cell.get("attempts") or []
    if len(attempts) > 1 or (cell.get("search") or {}).get("ran"):
        row["attempts"] = [
            _attempt(r, _attempt_figures(folder, r, criterion), i == cell.get("chosen_attempt"))
            for i, r in enumerate(attempts)
        ]
    if cell.get("search"):
        row["search"] = cell["search"]
    if cell.get("devices") is not None:
        row["devices"] = device_results(cell, vdir, row.get("estimated_ms"), target)
    row["icon"] = ICONS[row["status"]]
    return row


def _attempt_figures(folder: Path, record: dict[str, Any], criterion: Criterion) -> dict[str, Any]:
    if record["status"] == FAILED and record.get("export_exit_code") not in (0, 6):
        return {}
    where = folder / record["dir"] if record.get("dir") else folder
    return variant_figures(where, record["artifact"], criterion)


def device_results(cell: dict[str, Any], folder: Path, estimated_ms: float | None, target: str) -> dict[str, Any]:
    """Per device: status, measured p50 and, for a device of the bench's target, the estimate's error."""
    out = {}
    for name, rec in cell["devices"].items():
        entry = {k: rec.get(k) for k in ("status", "reason", "target", "address", "started", "finished")}
        entry["cached"] = rec.get("cached", False)
        profile = load_json(folder / "devices" / name / "profile.json") if rec.get("status") == OK else None
        if profile:
            measured = profile["latency"]["p50_ms"]
            entry.update(
                measured_p50_ms=measured,
                latency_kind=profile["latency"]["kind"],
                machine=profile["machine"].get("machine"),
                cpu_parts=profile["machine"]["cpu"].get("parts"),
                runtime=f"{profile['runtime']['name']} {profile['runtime'].get('version')}",
                peak_memory_kb=profile["memory"].get("peak_over_runtime_kb"),
            )
            if estimated_ms and measured and rec.get("target") == target:
                entry["estimate_error_pct"] = round(100.0 * (estimated_ms - measured) / measured, 1)
        out[name] = entry
    return out


def measured_ms(row: dict[str, Any]) -> float | None:
    """Mean measured p50 over the devices that profiled the cell (None when none did)."""
    values = [d["measured_p50_ms"] for d in (row.get("devices") or {}).values() if d.get("measured_p50_ms")]
    return sum(values) / len(values) if values else None


def _basis(rows: list[dict[str, Any]], devices: int) -> tuple[str, str]:
    """(ranked_by, what it means): devices' measurements, native measurements, estimates or emulated time."""
    ok = [r for r in rows if r["status"] == OK]
    if ok and devices and all(measured_ms(r) for r in ok):
        return "devices", f"p50 latency measured on {devices} device(s)"
    if ok and all(r.get("device_latency_kind") == "measured" for r in ok):
        threads = sorted({int(r["threads"]) for r in ok if r.get("threads")})
        where = f"{'/'.join(map(str, threads))} thread{'s' if threads != [1] else ''}" if threads else "default threads"
        return (
            "measured",
            f"p50 latency measured natively on this machine ({where}; one profile at a time, no export of this bench beside it)",
        )
    if ok and all(r.get("estimated_ms") for r in ok):
        return "estimated", "estimated device latency (from emulated instruction counts; see each profile)"
    return "emulated", "emulated latency (QEMU wall time, not device time)"


def speed_key(row: dict[str, Any], basis: str) -> float:
    if basis == "devices":
        return measured_ms(row) or float("inf")
    if basis == "emulated":
        value = row.get("emulated_p50_ms") or row.get("measured_p50_ms")
        return float(value) if value else float("inf")
    return rank_ms(row)


def _speedups(rows: list[dict[str, Any]], basis: str) -> None:
    """Speedup vs the fp32 cell of the same format (by the ranking's basis)."""
    base = {r["format"]: speed_key(r, basis) for r in rows if r["precision"] == "fp32" and r["status"] != FAILED}
    for r in rows:
        b, mine = base.get(r["format"]), speed_key(r, basis)
        ok = b and b < float("inf") and mine < float("inf")
        r["speedup_vs_fp32"] = round(b / mine, 2) if ok and b else None


def metric(rows: list[dict[str, Any]]) -> str | None:
    """The board's quality metric: accuracy when the eval set has labels, agreement when not."""
    kinds = {ACCURACY if r.get("accuracy") else AGREEMENT for r in rows if quality_of(r)}
    measured = [r for r in rows if (quality_of(r) or {}).get("data") not in (None, "validation inputs")]
    if not measured:
        return None
    return ACCURACY if ACCURACY in kinds else AGREEMENT


def leaderboard(
    cells: list[dict[str, Any]],
    root: Path,
    criterion: Criterion,
    target: Target,
    devices: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Rows sorted by device latency (measured, else estimated) among cells within budget; the winner
    named with what it was ranked on; with devices, a per-device comparison and the estimate's error."""
    from edge_kit.benchmark.explain import explain_slower

    rows = [_row(c, root / c["cell"], criterion, target.name) for c in cells]
    basis, ranked_on = _basis(rows, len(devices or []))
    _speedups(rows, basis)
    explain_slower(rows)
    order = {OK: 0, OUTSIDE: 1, FAILED: 2}
    rows.sort(key=lambda r: (order[r["status"]], speed_key(r, basis), r["cell"]))
    winner = next((r for r in rows if r["status"] == OK), None)
    kind = metric(rows)
    board = {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "rows": rows,
        "ranked_by": "measured" if basis == "devices" else basis,
        "ranked_on": ranked_on,
        "criterion": {**criterion.to_dict(), "metric": kind, "text": criterion.describe(kind)},
        "recommended": winner["cell"] if winner else None,
        "counts": {s: sum(r["status"] == s for r in rows) for s in (OK, OUTSIDE, FAILED)},
        "int8_vs_fp32": int8_vs_fp32(rows, basis),
    }
    board["recommendation"] = recommendation(board, target.name)
    if devices:
        board.update(devices_compared(rows, devices))
    return board


def int8_vs_fp32(rows: list[dict[str, Any]], basis: str) -> list[dict[str, Any]]:
    """Per format: the int8 variant kept against fp32, by the ranking's basis."""
    out = []
    for fp32 in (r for r in rows if r["precision"] == "fp32" and r["status"] != FAILED):
        int8 = next((r for r in rows if r["format"] == fp32["format"] and r["precision"] == "int8"), None)
        if int8 is None or int8["status"] == FAILED:
            continue
        a, b = speed_key(fp32, basis), speed_key(int8, basis)
        out.append(
            {
                "format": fp32["format"],
                "basis": basis,
                "fp32_ms": a if a < float("inf") else None,
                "int8_ms": b if b < float("inf") else None,
                "int8_recipe": int8.get("recipe"),
                "int8_keep_float": len(int8.get("keep_float") or []),
                "int8_status": int8["status"],
                "speedup": round(a / b, 2) if a < float("inf") and b < float("inf") else None,
                "why_slower": int8.get("slower_than_fp32"),
            }
        )
    return out


def variant_text(row: dict[str, Any]) -> str:
    """'tflite int8 (recipe X, 3 layers in float)'."""
    parts = [row["recipe"]] if row.get("recipe") else []
    if row.get("keep_float"):
        parts.append(f"{len(row['keep_float'])} layer(s) kept in float")
    return f"{row['format']} {row['precision']}" + (f" ({', '.join(parts)})" if parts else "")


def recommendation(board: dict[str, Any], target: str) -> str:
    """The recommendation in one paragraph: what, where, ranked on what, judged how, how much faster."""
    winner = next((r for r in board["rows"] if r["cell"] == board["recommended"]), None)
    if winner is None:
        return f"no variant is within tolerance and {board['criterion']['text']}"
    q = quality_of(winner)
    quality = f"; {q['metric'].removeprefix('top1_')} {q['value']:.2f}% (n={q['samples']})" if q else ""
    text = (
        f"ship {variant_text(winner)} to {target}: fastest by {board['ranked_on']} among the variants "
        f"{board['criterion']['text']}{quality}"
    )
    baseline = board.get("baseline") or {}
    speedup = (baseline.get("speedups") or {}).get(winner["cell"])
    if speedup:
        mine = baseline["subjects"][winner["cell"]]["p50_ms"]
        text += (
            f"; {speedup:.1f}x faster than the source model in {baseline['runner']} on the same machine and "
            f"{baseline['threads']} thread(s), measured in this run ({mine:.2f} vs {baseline['p50_ms']:.2f} ms p50, "
            "interleaved in one process)"
        )
    elif baseline.get("reason"):
        text += f"; no speedup over the source framework: {baseline['reason']}"
    return text


def devices_compared(rows: list[dict[str, Any]], devices: list[dict[str, Any]]) -> dict[str, Any]:
    """Per device: what it is and how far the emulated estimate was from its measurements."""
    errors = [
        {
            "cell": r["cell"],
            "device": name,
            "estimated_ms": r.get("estimated_ms"),
            "measured_ms": d["measured_p50_ms"],
            "error_pct": d["estimate_error_pct"],
        }
        for r in rows
        for name, d in (r.get("devices") or {}).items()
        if d.get("estimate_error_pct") is not None
    ]
    summary = []
    for device in devices:
        mine = [(r.get("devices") or {}).get(device["name"], {}) for r in rows]
        measured = [m for m in mine if m.get("measured_p50_ms")]
        errs = [abs(e["error_pct"]) for e in errors if e["device"] == device["name"]]
        summary.append(
            {
                **device,
                "cells_measured": len(measured),
                "cells_failed": sum(m.get("status") == FAILED for m in mine),
                "machine": next((m.get("machine") for m in measured), None),
                "cpu_parts": next((m.get("cpu_parts") for m in measured), None),
                "mean_abs_estimate_error_pct": round(sum(errs) / len(errs), 1) if errs else None,
            }
        )
    return {"devices": summary, "estimate_vs_measured": errors}
