"""The `estimate` section of a profile report, and the one line that prints it.

`estimate_from_report(report, target, clock_ghz)` turns a profile report (instruction counts
per class, the artifact's path, the number of threads) into the device estimate;
`format_estimate(section, target)` gives 'estimated on Raspberry Pi 4: 17.3 ms (±15%)'.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from edge_kit.errors import DataError
from edge_kit.estimate.model import METHOD, METHOD_VERSION, Core, Prediction, load_params_doc, params_from_doc, predict
from edge_kit.estimate.opcost import ModelCost, analyse
from edge_kit.targets import Target

ASSUMPTIONS = (
    "work = instructions counted under QEMU for this artifact's kernels; each class issues at "
    "the core's documented rate (Arm Software Optimization Guide) with the fitted overlap k; "
    "intra-op threads share the work (Amdahl, P={p}); bytes spilling past the caches move at "
    "beta x peak DRAM bandwidth; clock fixed, no thermal throttling"
)
_PER_OP_LIMIT = 60
EXTRAPOLATION_FACTOR = 4.0  # beyond this factor of the fitted models' instruction counts, say so


def _unavailable(target: Target, reason: str) -> dict[str, Any]:
    return {
        "available": False,
        "reason": reason,
        "estimated_device_latency_ms": None,
        "target": target.name,
        "method": {"name": METHOD, "version": METHOD_VERSION},
    }


def _calibration(doc: dict[str, Any], target: Target, core: Core) -> tuple[str, int, str]:
    """(status, interval %, note): calibrated on this board, on another board with this core, or not."""
    pct = doc["interval_pct"]
    rows = [r for r in doc["rows"] if r["edgekit_target"] == target.name]
    if rows and target.name in pct["calibrated"]:
        own = pct["calibrated"][target.name]
        return (
            "calibrated",
            own,
            (
                f"calibrated: fitted on {len(doc['rows'])} published rows, {len(rows)} on this board; ±{own}% "
                "covers the largest error seen on this board (leave-one-out and out-of-sample rows)"
            ),
        )
    if core.name in doc["calibrated_cores"]:
        return (
            "same_core",
            pct["same_core"],
            (
                f"uncalibrated: ±{pct['same_core']}% (no published row for this board; its core, {core.name}, "
                "is calibrated on another board, its memory system is not)"
            ),
        )
    return (
        "uncalibrated",
        pct["uncalibrated"],
        (
            f"uncalibrated: ±{pct['uncalibrated']}% (no published row for this board or its core, {core.name}: "
            "the issue rates are documented, the fitted parameters come from other cores)"
        ),
    )


@functools.lru_cache(maxsize=1)
def _record_totals() -> dict[tuple[str, str, str, int], float]:
    """Instructions per inference of each shipped calibration record (read once per process)."""
    from edge_kit.estimate.calibrate import RECORDS, read_records

    try:
        return {key: sum(rec["per_inference"].values()) for key, rec in read_records(RECORDS).items()}
    except DataError:
        return {}


def _fitted_range(doc: dict[str, Any]) -> tuple[float, float] | None:
    """Smallest and largest instructions per inference among the records the parameters were fitted on."""
    totals = _record_totals()
    fitted = [
        totals[key]
        for key in {(r["edgekit_target"], r["model"], r["precision"], int(r["threads"])) for r in doc["rows"]}
        if key in totals
    ]
    return (min(fitted), max(fitted)) if fitted else None


def _extrapolation(doc: dict[str, Any], instructions: float) -> str | None:
    """A note when the model is far outside the size of the models the estimate was fitted on."""
    fitted = _fitted_range(doc)
    if fitted is None or fitted[0] / EXTRAPOLATION_FACTOR <= instructions <= fitted[1] * EXTRAPOLATION_FACTOR:
        return None
    side = (
        ("smaller: fixed per-inference costs (invoke, thread wake-up) are not modelled, so it is likely a lower bound")
        if instructions < fitted[0]
        else "larger: cache and memory behaviour is unverified"
    )
    return (
        f"extrapolated: {instructions / 1e6:.3g} M instructions per inference, the fitted models have "
        f"{fitted[0] / 1e6:.0f}-{fitted[1] / 1e6:.0f} M; the interval does not cover a model this much {side}"
    )


def _cost(report: dict[str, Any]) -> ModelCost:
    artifact = report.get("artifact") or {}
    path = Path(artifact.get("path") or "")
    if path.is_file():
        return analyse(path, artifact.get("format"))
    return ModelCost((), "size-only", int(artifact.get("size_bytes") or 0))


def estimate_from_report(report: dict[str, Any], target: Target, clock_ghz: float | None = None) -> dict[str, Any]:
    """The `estimate` section for a profile report (always a dict; `available` says if it holds a number)."""
    core = Core.from_target(target)
    if core is None:
        return _unavailable(target, f"target {target.name} has no [microarch] description to estimate with")
    ins = report.get("instructions") or {}
    per_class = ins.get("per_inference")
    if not per_class:
        return _unavailable(target, "no instruction counts (profile under QEMU with counting on)")
    clock = float(clock_ghz or target.clock_ghz or 0)
    if clock <= 0:
        return _unavailable(target, f"target {target.name} has no clock; pass --clock-ghz")
    try:
        doc = load_params_doc()
    except DataError as exc:  # a broken install must not break profiling: say why there is no number
        return _unavailable(target, exc.one_line())
    params = params_from_doc(doc)
    settings = report.get("settings") or {}
    threads = int(settings.get("num_threads") or (report.get("runtime") or {}).get("num_threads") or 1)
    cost = _cost(report)
    pred = predict({k: float(v) for k, v in per_class.items()}, cost, core, params, clock, threads)
    status, pct, note = _calibration(doc, target, core)
    notes = _notes(pred, cost, settings, threads)
    extrapolated = _extrapolation(doc, sum(float(v) for v in per_class.values()))
    if extrapolated:
        notes.insert(0, extrapolated)
    ms = round(pred.latency_ms, 4)
    return {
        "available": True,
        "estimated_device_latency_ms": ms,
        "statistic": "p50",
        "low_ms": round(ms * (1 - pct / 100), 4),
        "high_ms": round(ms * (1 + pct / 100), 4),
        "interval_pct": pct,
        "calibrated": status == "calibrated",
        "calibration": status,
        "note": note,
        "extrapolated": extrapolated is not None,
        "target": target.name,
        "device": core.device_name,
        "core": core.name,
        "clock_ghz": clock,
        "clock_source": "--clock-ghz" if clock_ghz else "target",
        "num_threads": threads,
        "threads_modelled": pred.threads,
        "method": {
            "name": METHOD,
            "version": METHOD_VERSION,
            "params": doc["params"],
            "fitted_on": [f"{r['target']} {r['model']} {r['precision']}" for r in doc["rows"]],
        },
        "breakdown": {
            "compute_ms": round(pred.compute_ms, 4),
            "memory_ms": round(pred.memory_ms, 4),
            "dram_bytes": round(pred.spilled_bytes),
            "bytes_source": cost.source,
            "per_class_ms": {c: round(v, 4) for c, v in sorted(pred.per_class_ms.items(), key=lambda kv: -kv[1])},
        },
        "per_operator": per_operator(report, cost, pred, core, params.beta),
        "assumptions": ASSUMPTIONS.format(p=params.parallel_fraction),
        "notes": notes,
    }


def _notes(pred: Prediction, cost: ModelCost, settings: dict[str, Any], threads: int) -> list[str]:
    notes = []
    if cost.source == "size-only":
        notes.append(
            "no per-operator analysis of this format: the memory term counts the file as weights "
            "and no activation traffic"
        )
    if pred.unmodelled_classes:
        notes.append(
            f"classes without a documented rate on this core, costed at 1 cycle: {', '.join(pred.unmodelled_classes)}"
        )
    if threads > pred.threads:
        notes.append(f"{threads} threads requested; the model uses the {pred.threads} compute cores")
    counted = settings.get("count_threads")
    if counted and int(counted) > 1:
        notes.append(f"counted on {counted} threads: idle workers' spin-waits inflate the counts")
    return notes


def per_operator(report: dict[str, Any], cost: ModelCost, pred: Prediction, core: Core, beta: float) -> dict[str, Any]:
    """Per-operator estimate: split by static work (LiteRT) or by the runtime's own profile."""
    ops = report.get("ops") or {}
    nodes = ops.get("by_node") if ops.get("available") else None
    if nodes:
        rows = [{"op": n["op"], "node": n["node"], "ms": round(pred.compute_ms * float(n["share"]), 6)} for n in nodes]
        rows.append({"op": "(memory: spilled bytes)", "node": "", "ms": round(pred.memory_ms, 6)})
        return {
            "method": f"apportioned by {ops.get('source', 'the runtime')}'s per-operator time shares "
            "(emulated); memory time not split per operator",
            "rows": sorted(rows, key=lambda r: -r["ms"])[:_PER_OP_LIMIT],
        }
    work = sum(o.work for o in cost.ops)
    if not cost.ops or work <= 0:
        return {
            "method": "not available: the runtime gave no per-operator profile and the format has no static analysis",
            "rows": [],
        }
    to_ms = 1e3 / (beta * core.dram_gbps * 1e9)
    rows = []
    for op, spill in zip(cost.ops, pred.per_op_spill, strict=True):
        compute = pred.compute_ms * op.work / work
        rows.append(
            {
                "index": op.index,
                "op": op.op,
                "ms": round(compute + spill * to_ms, 6),
                "compute_ms": round(compute, 6),
                "memory_ms": round(spill * to_ms, 6),
                "macs": op.macs,
                "dram_bytes": round(spill),
            }
        )
    rows.sort(key=lambda r: -r["ms"])
    return {
        "method": "apportioned, not counted per operator: LiteRT runs the whole graph in one call "
        "(no operator boundaries to mark, no per-op profile from Python); compute time split "
        "by each operator's static work (MACs + output elements), memory time from its own "
        "spilled bytes",
        "rows": rows[:_PER_OP_LIMIT],
    }


def _ms(value: float) -> str:
    return f"{value:.3g}" if value < 1000 else f"{value:,.0f}"


def format_estimate(section: dict[str, Any] | None, target: Target) -> str:
    """'estimated on Raspberry Pi 4: 17.3 ms (±15%)', '... (uncalibrated: ±30%)' or why there is none."""
    if not section or not section.get("available"):
        reason = (section or {}).get("reason", "no instruction counts")
        return f"device estimate: not available ({reason})"
    where = section.get("device") or target.name
    if section.get("clock_source") == "--clock-ghz":
        where += f" at {section['clock_ghz']:g} GHz"
    pct = section["interval_pct"]
    bound = f"±{pct}%" if section.get("calibrated") else f"uncalibrated: ±{pct}%"
    if section.get("extrapolated"):
        bound += "; extrapolated far outside the models it was fitted on, see the notes"
    return f"estimated on {where}: {_ms(section['estimated_device_latency_ms'])} ms ({bound})"
