"""The leaderboard: one row per cell, read back from the cell's own manifest and profile report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edge_kit.benchmark.cells import FAILED, ICONS, OK, OUTSIDE
from edge_kit.documents.bench import SCHEMA, SCHEMA_VERSION
from edge_kit.targets import Target


def _load(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _accuracy(manifest: dict[str, Any]) -> dict[str, Any]:
    acc = manifest.get("accuracy")
    if acc:
        return {
            "metric": acc.get("metric"),
            "source": acc.get("source"),
            "value": acc.get("artifact"),
            "drop": acc.get("drop"),
        }
    top1 = (manifest.get("validation") or {}).get("top1_agreement")
    return {
        "metric": "top1_agreement (validation inputs)",
        "source": 100.0 if top1 is not None else None,
        "value": 100.0 * top1 if top1 is not None else None,
        "drop": 100.0 * (1 - top1) if top1 is not None else None,
    }


def _row(cell: dict[str, Any], folder: Path, budget: float, target: str) -> dict[str, Any]:
    row = {
        "cell": cell["cell"],
        "format": cell["format"],
        "precision": cell["precision"],
        "status": cell["status"],
        "reason": cell.get("reason", ""),
        "cached": cell.get("cached", False),
        "folder": str(folder),
    }
    manifest = _load(folder / (cell["artifact"] + ".json"))
    profile = _load(folder / "profile" / "profile.json")
    if manifest:
        acc = _accuracy(manifest)
        row.update(
            size_bytes=manifest["artifact"]["size_bytes"],
            accuracy=acc,
            max_abs_diff=manifest["validation"]["max_abs_diff"],
        )
        if row["status"] == OK and acc.get("drop") is not None and acc["drop"] > budget:
            row.update(status=OUTSIDE, reason=f"accuracy drop {acc['drop']:.2f} points > budget {budget}")
    if profile:
        est = profile.get("estimate") or {}
        row.update(
            estimated_ms=est.get("estimated_device_latency_ms"),
            estimate=est or None,
            emulated_p50_ms=profile["latency"]["p50_ms"],
            latency_kind=profile["latency"]["kind"],
            peak_memory_kb=profile["memory"].get("peak_over_runtime_kb"),
            ops=profile.get("ops"),
        )
    if cell.get("devices") is not None:
        row["devices"] = device_results(cell, folder, row.get("estimated_ms"), target)
    row["icon"] = ICONS[row["status"]]
    return row


def device_results(cell: dict[str, Any], folder: Path, estimated_ms: float | None, target: str) -> dict[str, Any]:
    """Per device: status, measured p50 and, for a device of the bench's target, the estimate's error."""
    out = {}
    for name, rec in cell["devices"].items():
        entry = {k: rec.get(k) for k in ("status", "reason", "target", "address", "started", "finished")}
        entry["cached"] = rec.get("cached", False)
        profile = _load(folder / "devices" / name / "profile.json") if rec.get("status") == OK else None
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


def _basis(rows: list[dict[str, Any]]) -> str:
    """'measured' when every ok cell was measured on the devices, else 'estimated' (or emulated, per row)."""
    ok = [r for r in rows if r["status"] == OK]
    return "measured" if ok and all(measured_ms(r) for r in ok) else "estimated"


def _speed_key(row: dict[str, Any], basis: str) -> float:
    value = measured_ms(row) if basis == "measured" else row.get("estimated_ms") or row.get("emulated_p50_ms")
    return float(value) if value else float("inf")


def _speedups(rows: list[dict[str, Any]], basis: str) -> None:
    """Speedup vs the fp32 cell of the same format (by the ranking's basis)."""
    base = {
        r["format"]: _speed_key(r, basis)
        for r in rows
        if r["precision"] == "fp32" and _speed_key(r, basis) < float("inf")
    }
    for r in rows:
        b, mine = base.get(r["format"]), _speed_key(r, basis)
        r["speedup_vs_fp32"] = round(b / mine, 2) if b and mine < float("inf") else None


def leaderboard(
    cells: list[dict[str, Any]], root: Path, budget: float, target: Target, devices: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Rows sorted by device latency (measured on the devices, else estimated) among cells within
    budget; the winner named; with devices, a per-device comparison and the estimate's error."""
    rows = [_row(c, root / c["cell"], budget, target.name) for c in cells]
    basis = _basis(rows)
    _speedups(rows, basis)
    order = {OK: 0, OUTSIDE: 1, FAILED: 2}
    rows.sort(key=lambda r: (order[r["status"]], _speed_key(r, basis), r["cell"]))
    winner = next((r for r in rows if r["status"] == OK), None)
    if basis != "measured" and not (winner and winner.get("estimated_ms")):
        basis = "emulated"
    label = {
        "measured": f"latency measured on {len(devices or [])} device(s)",
        "estimated": "estimated device latency",
        "emulated": "emulated latency",
    }[basis]
    board = {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "rows": rows,
        "ranked_by": basis,
        "recommended": winner["cell"] if winner else None,
        "recommendation": (
            f"ship {winner['format']} {winner['precision']} to {target.name}: fastest by "
            f"{label} among the cells within the accuracy budget"
            if winner
            else "no cell is within tolerance and the accuracy budget"
        ),
        "counts": {s: sum(r["status"] == s for r in rows) for s in (OK, OUTSIDE, FAILED)},
    }
    if devices:
        board.update(devices_compared(rows, devices))
    return board


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
