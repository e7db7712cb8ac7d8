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
from edge_kit.estimate import derive
from edge_kit.estimate.model import (
    METHOD,
    METHOD_VERSION,
    Core,
    Params,
    Prediction,
    load_params_doc,
    params_from_doc,
    predict_workload,
    workload,
)
from edge_kit.estimate.opcost import ModelCost, analyse
from edge_kit.targets import Target

ASSUMPTIONS = (
    "work = instructions counted under QEMU for this artifact's kernels; each class issues at the "
    "core's documented rate (Arm Software Optimization Guide), scaled by the fitted efficiency of "
    "fp32 or int8 kernels on this core; the work is split over operators by their static work and "
    "over threads by the measured parallel fraction (P={p}); each operator takes the longer of its "
    "compute time and the time to move its bytes that spill past the caches at beta x peak DRAM "
    "bandwidth; clock fixed, no thermal throttling"
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


def _calibrated_note(doc: dict[str, Any], target: Target, pct: int) -> str:
    rows = [r for r in doc["rows"] if r["edgekit_target"] == target.name]
    extra = [r for r in doc.get("validation_rows", []) if r["edgekit_target"] == target.name]
    cv = max(abs(r["cv_error_pct"]) for r in rows if r["cv_error_pct"] is not None)
    text = (
        f"calibrated: ±{pct}% is the largest out-of-sample error on this board: leave-one-model-out over "
        f"its {len(rows)} published rows (worst {cv:.1f}%)"
    )
    if extra:
        text += f" and {len(extra)} never-fitted rows (worst {max(abs(r['error_pct']) for r in extra):.1f}%)"
    return text


def _calibration(
    doc: dict[str, Any], params: Params, target: Target, core: Core, source: str, pred: Prediction
) -> tuple[str, int, str, dict[str, Any] | None]:
    """(status, interval %, note, error budget): calibrated on this board, or derived from a calibrated core."""
    calibrated = doc["interval_pct"]["calibrated"]
    if target.name in calibrated:
        pct = calibrated[target.name]
        return "calibrated", pct, _calibrated_note(doc, target, pct), None
    b = derive.budget(doc, params, core, source, pred)
    status = "same_core" if core.name == source else "uncalibrated"
    detail = {"terms_log": b.terms, "source_core": source, "source_board": b.source_board}
    if core.assumptions:
        detail["assumptions"] = core.assumptions
    return status, b.pct, derive.describe(b, core), detail


@functools.lru_cache(maxsize=1)
def _record_totals() -> dict[tuple[str, str, str, int], float]:
    """Instructions per inference of each shipped calibration record (read once per process)."""
    from edge_kit.estimate.rows import RECORDS, read_records

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


def estimate_from_report(
    report: dict[str, Any], target: Target, clock_ghz: float | None = None, cost: ModelCost | None = None
) -> dict[str, Any]:
    """The `estimate` section for a profile report (always a dict; `available` says if it holds a number).
    `cost`: the artifact's static analysis when the caller has it already (else read from the artifact)."""
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
    found = params.for_core(core)
    if found is None:
        return _unavailable(
            target, f"no fitted parameters for core {core.name}: name a calibrated core in its [microarch] params_from"
        )
    settings = report.get("settings") or {}
    threads = int(settings.get("num_threads") or (report.get("runtime") or {}).get("num_threads") or 1)
    cost = cost or _cost(report)
    work = workload({k: float(v) for k, v in per_class.items()}, cost, core, clock, threads, params.parallel_fraction)
    pred = predict_workload(work, found[0], params.beta)
    status, pct, note, budget = _calibration(doc, params, target, core, found[1], pred)
    notes = _notes(pred, cost, settings, threads)
    extrapolated = _extrapolation(doc, sum(float(v) for v in per_class.values()))
    if extrapolated:
        notes.insert(0, extrapolated)
    ms = round(pred.latency_ms, 4)
    section = {
        "available": True,
        "estimated_device_latency_ms": ms,
        "statistic": "p50",
        "low_ms": round(ms * (1 - pct / 100) if pct < 100 else ms / (1 + pct / 100), 4),
        "high_ms": round(ms * (1 + pct / 100), 4),
        "interval_pct": pct,
        "interval_source": "out-of-sample errors on this board" if budget is None else "error budget (no rows)",
        "calibrated": status == "calibrated",
        "calibration": status,
        "note": note,
        "extrapolated": extrapolated is not None,
        "target": target.name,
        "device": core.device_name,
        "core": core.name,
        "params_core": found[1],
        "clock_ghz": clock,
        "clock_source": "--clock-ghz" if clock_ghz else "target",
        "num_threads": threads,
        "threads_modelled": pred.threads,
        "method": _method(doc),
        "breakdown": _breakdown(pred, cost),
        "per_operator": per_operator(report, cost, pred),
        "assumptions": ASSUMPTIONS.format(p=params.parallel_fraction),
        "notes": notes,
    }
    if budget is not None:
        section["error_budget"] = budget
    return section


def _method(doc: dict[str, Any]) -> dict[str, Any]:
    """How the estimate was made: the fit's parameters, the rows each comes from, its cross-validation."""
    return {
        "name": METHOD,
        "version": METHOD_VERSION,
        "params": doc["params"],
        "fitted_on": [f"{r['target']} {r['model']} {r['precision']}" for r in doc["rows"]],
        "param_rows": {name: info["rows"] for name, info in doc.get("fitted_on", {}).items()},
        "cv": doc.get("cv"),
    }


def _breakdown(pred: Prediction, cost: ModelCost) -> dict[str, Any]:
    """How the estimate splits: compute- and memory-bound time, the efficiency used, bytes, classes."""
    return {
        "compute_ms": round(pred.compute_ms, 4),
        "memory_ms": round(pred.memory_ms, 4),
        "compute_total_ms": round(pred.compute_total_ms, 4),
        "memory_total_ms": round(pred.memory_total_ms, 4),
        "memory_bound_ops": pred.memory_bound_ops,
        "k": round(pred.k, 4),
        "int_share": round(pred.int_share, 4),
        "dram_bytes": round(pred.spilled_bytes),
        "bytes_source": cost.source,
        "per_class_ms": {c: round(v, 4) for c, v in sorted(pred.per_class_ms.items(), key=lambda kv: -kv[1])},
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


def per_operator(report: dict[str, Any], cost: ModelCost, pred: Prediction) -> dict[str, Any]:
    """Per-operator estimate: the roofline's own operators (LiteRT), or the runtime's per-node time shares."""
    ops = report.get("ops") or {}
    nodes = ops.get("by_node") if ops.get("available") else None
    if nodes:
        rows = [{"op": n["op"], "node": n["node"], "ms": round(pred.latency_ms * float(n["share"]), 6)} for n in nodes]
        return {
            "method": f"apportioned by {ops.get('source', 'the runtime')}'s per-operator time shares (emulated)",
            "rows": sorted(rows, key=lambda r: -r["ms"])[:_PER_OP_LIMIT],
        }
    if not cost.ops or len(pred.per_op_ms) != len(cost.ops):
        return {
            "method": "not available: the runtime gave no per-operator profile and the format has no static analysis",
            "rows": [],
        }
    rows = []
    for op, ms, spill, bound in zip(cost.ops, pred.per_op_ms, pred.per_op_spill, pred.per_op_memory_bound, strict=True):
        if op.fused:
            continue
        rows.append(
            {
                "index": op.index,
                "op": op.op,
                "ms": round(ms, 6),
                "bound": "memory" if bound else "compute",
                "macs": op.macs,
                "dram_bytes": round(spill),
            }
        )
    rows.sort(key=lambda r: -r["ms"])
    return {
        "method": "the roofline's operators: compute time split by each operator's static work (MACs + output "
        "elements; LiteRT runs the graph in one call, so counts are not per operator), memory time from its "
        "own spilled bytes; each operator takes the longer of the two",
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
