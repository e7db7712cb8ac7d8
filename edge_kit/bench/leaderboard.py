"""The leaderboard: one row per cell, read back from the cell's own manifest and profile report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edge_kit.bench.cells import FAILED, ICONS, OK, OUTSIDE
from edge_kit.targets import Target

SCHEMA = "edgekit.bench"
SCHEMA_VERSION = 1


def _load(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _accuracy(manifest: dict[str, Any]) -> dict[str, Any]:
    acc = manifest.get("accuracy")
    if acc:
        return {"metric": acc.get("metric"), "source": acc.get("source"), "value": acc.get("artifact"),
                "drop": acc.get("drop")}
    top1 = (manifest.get("validation") or {}).get("top1_agreement")
    return {"metric": "top1_agreement (validation inputs)", "source": 100.0 if top1 is not None else None,
            "value": 100.0 * top1 if top1 is not None else None,
            "drop": 100.0 * (1 - top1) if top1 is not None else None}


def _row(cell: dict[str, Any], folder: Path, budget: float) -> dict[str, Any]:
    row = {"cell": cell["cell"], "format": cell["format"], "precision": cell["precision"],
           "status": cell["status"], "reason": cell.get("reason", ""), "cached": cell.get("cached", False),
           "folder": str(folder)}
    manifest = _load(folder / (cell["artifact"] + ".json"))
    profile = _load(folder / "profile" / "profile.json")
    if manifest:
        acc = _accuracy(manifest)
        row.update(size_bytes=manifest["artifact"]["size_bytes"], accuracy=acc,
                   max_abs_diff=manifest["validation"]["max_abs_diff"])
        if row["status"] == OK and acc.get("drop") is not None and acc["drop"] > budget:
            row.update(status=OUTSIDE, reason=f"accuracy drop {acc['drop']:.2f} points > budget {budget}")
    if profile:
        est = profile.get("estimate") or {}
        row.update(estimated_ms=est.get("estimated_device_latency_ms"), estimate=est or None,
                   emulated_p50_ms=profile["latency"]["p50_ms"], latency_kind=profile["latency"]["kind"],
                   peak_memory_kb=profile["memory"].get("peak_over_runtime_kb"), ops=profile.get("ops"))
    row["icon"] = ICONS[row["status"]]
    return row


def _speed_key(row: dict[str, Any]) -> float:
    value = row.get("estimated_ms") or row.get("emulated_p50_ms")
    return float(value) if value else float("inf")


def _speedups(rows: list[dict[str, Any]]) -> None:
    """Speedup vs the fp32 cell of the same format (by estimate, else by emulated latency)."""
    base = {r["format"]: _speed_key(r) for r in rows if r["precision"] == "fp32" and _speed_key(r) < float("inf")}
    for r in rows:
        b, mine = base.get(r["format"]), _speed_key(r)
        r["speedup_vs_fp32"] = round(b / mine, 2) if b and mine < float("inf") else None


def leaderboard(cells: list[dict[str, Any]], root: Path, budget: float, target: Target) -> dict[str, Any]:
    """Rows sorted by estimated device latency among cells within budget; the winner named."""
    rows = [_row(c, root / c["cell"], budget) for c in cells]
    _speedups(rows)
    order = {OK: 0, OUTSIDE: 1, FAILED: 2}
    rows.sort(key=lambda r: (order[r["status"]], _speed_key(r), r["cell"]))
    winner = next((r for r in rows if r["status"] == OK), None)
    basis = "estimated device latency" if winner and winner.get("estimated_ms") else "emulated latency"
    return {"schema": SCHEMA, "schema_version": SCHEMA_VERSION, "rows": rows,
            "recommended": winner["cell"] if winner else None,
            "recommendation": (f"ship {winner['format']} {winner['precision']} to {target.name}: fastest by "
                               f"{basis} among the cells within the accuracy budget" if winner else
                               "no cell is within tolerance and the accuracy budget"),
            "counts": {s: sum(r["status"] == s for r in rows) for s in (OK, OUTSIDE, FAILED)}}
