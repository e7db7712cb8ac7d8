"""A variant's figures, read back from its own manifest and profile report.

Latency is said as what it is: `measured` when the profile ran natively (target host) or
on a device, `estimated` when it comes from emulated instruction counts, and the emulated
wall time only as emulated time. `device_ms` is the figure a variant is ranked on: the
measured p50, else the estimate.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edge_kit.benchmark.criterion import Criterion, quality


def load_json(path: Path) -> dict[str, Any] | None:
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return None


def manifest_of(folder: Path, artifact: str) -> dict[str, Any] | None:
    return load_json(folder / (Path(artifact).name + ".json"))


def profile_of(folder: Path) -> dict[str, Any] | None:
    return load_json(folder / "profile" / "profile.json")


def latency(profile: dict[str, Any] | None) -> dict[str, Any]:
    """Measured or emulated p50, the estimate, and the device figure a variant is ranked on."""
    if not profile:
        return {}
    lat, est = profile["latency"], profile.get("estimate") or {}
    measured = lat["kind"] == "measured"
    estimated = est.get("estimated_device_latency_ms")
    return {
        "latency_kind": lat["kind"],
        "measured_p50_ms": lat["p50_ms"] if measured else None,
        "emulated_p50_ms": None if measured else lat["p50_ms"],
        "estimated_ms": estimated,
        "estimate": est or None,
        "device_p50_ms": lat["p50_ms"] if measured else estimated,
        "device_latency_kind": "measured" if measured else "estimated" if estimated else None,
        "threads": (profile.get("settings") or {}).get("num_threads"),
    }


def rank_ms(figures: dict[str, Any]) -> float:
    """What variants are ranked on: device latency (measured, else estimated), else emulated time."""
    value = figures.get("device_p50_ms") or figures.get("emulated_p50_ms")
    return float(value) if value else float("inf")


def variant_figures(folder: Path, artifact: str, criterion: Criterion) -> dict[str, Any]:
    """Recipe, layers kept in float, quality, verdict and latency of the variant in `folder`."""
    manifest = manifest_of(folder, artifact)
    if manifest is None:
        return {}
    quant = manifest.get("quantization") or {}
    budget = (manifest.get("accuracy") or {}).get("budget") or {}
    q = quality(manifest)
    status, reason = criterion.judge(manifest)
    out: dict[str, Any] = {
        "recipe": quant.get("recipe"),
        "keep_float": list(quant.get("keep_float") or []),
        "quantizable_layers": budget.get("quantizable_layers"),
        "requantizations": budget.get("requantizations"),
        "size_bytes": manifest["artifact"]["size_bytes"],
        "max_abs_diff": manifest["validation"]["max_abs_diff"],
        "quality": q.to_dict() if q else None,
        "judged": status,
        "reason": reason,
        "note": criterion.note(q) if q else "",
    }
    return {**out, **latency(profile_of(folder))}
