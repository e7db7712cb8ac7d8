"""The latency model: counted instructions x documented issue rates + bytes spilled past the caches.

    compute_ms = k * sum_c(n_c * cpi_c) * ((1 - P) + P / threads) / clock
    memory_ms  = spilled_bytes / (beta * dram_peak)
    latency_ms = compute_ms + memory_ms

n_c: instructions of class c per inference, counted under QEMU (all threads summed);
cpi_c: cycles per instruction of class c on the target's core (1 / sustained issue rate,
from Arm's Software Optimization Guides, in the target's [microarch] table); P: the parallel
fraction of the work; spilled_bytes: per operator, the part of its working set that exceeds
the on-chip caches, plus the weights that do not fit (see `spilled_bytes`). k (how much of
the serial issue cost the out-of-order core hides) and beta (the fraction of peak DRAM
bandwidth that spilled traffic achieves) are the two free parameters, fitted by
`edge_kit.estimate.calibrate` on published device latencies. docs/estimate.md explains it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

from edge_kit.errors import DataError
from edge_kit.estimate.opcost import ModelCost
from edge_kit.targets import Target

METHOD = "issue-rate + cache-spill model on counted instructions"
METHOD_VERSION = "1"
PARAMS_FILE = "data/params.json"
# Fraction of the counted work that XNNPACK-style intra-operator threading spreads across
# threads. Fixed, not fitted: measured on the calibration models as the single-thread work over
# the busiest thread's work in 4-thread counted runs (3.76-3.90x at 4 threads -> P = 0.98).
PARALLEL_FRACTION = 0.98


@dataclass(frozen=True)
class Core:
    """The [microarch] table of a target, typed."""

    name: str
    device_name: str
    compute_cores: int
    l2_kb: int
    shared_cache_kb: int
    dram_gbps: float
    cpi: dict[str, float]
    source: str = ""

    @classmethod
    def from_target(cls, target: Target) -> Core | None:
        """The target's core description, or None when its TOML has no [microarch]."""
        m = target.microarch
        if m is None:
            return None
        return cls(
            name=m.core,
            device_name=m.device_name,
            compute_cores=m.compute_cores,
            l2_kb=m.l2_kb,
            shared_cache_kb=m.shared_cache_kb,
            dram_gbps=m.dram_gbps,
            cpi={str(k): v for k, v in m.cycles_per_insn.items()},
            source=m.source,
        )

    def cache_bytes(self, threads: int) -> int:
        """On-chip capacity the working set can use: the shared level plus the active cores' L2s."""
        return (self.shared_cache_kb + threads * self.l2_kb) * 1024


@dataclass(frozen=True)
class Params:
    """The fitted free parameters (see params.json for the fit that produced them)."""

    k: float
    beta: float
    parallel_fraction: float = PARALLEL_FRACTION


@dataclass(frozen=True)
class Prediction:
    """One estimate and how it splits."""

    latency_ms: float
    compute_ms: float
    memory_ms: float
    per_class_ms: dict[str, float]
    spilled_bytes: float
    per_op_spill: tuple[float, ...]
    threads: int
    unmodelled_classes: tuple[str, ...]


def thread_scale(threads: int, parallel_fraction: float) -> float:
    """Amdahl: the share of single-thread time the busiest of `threads` threads takes."""
    return (1.0 - parallel_fraction) + parallel_fraction / max(threads, 1)


def spilled_bytes(cost: ModelCost, cache_bytes: int) -> tuple[float, tuple[float, ...]]:
    """(total, per operator) bytes that go to DRAM in one inference.

    An operator whose working set W (inputs + outputs + weights) exceeds the cache C moves the
    fraction 1 - C/W of its activation bytes to and from DRAM; the weights, read once per
    inference, spill by the same rule applied to all weights together. Without a per-operator
    analysis, the artifact's size stands for its weights and activations are not counted."""
    ops = [o for o in cost.ops if not o.fused]
    weights = float(cost.weight_bytes)
    w_spill = weights * max(0.0, 1.0 - cache_bytes / weights) if weights > 0 else 0.0
    per_op = []
    for op in cost.ops:
        act = float(op.in_bytes + op.out_bytes)
        working = act + op.weight_bytes
        spill = 0.0 if op.fused or working <= 0 else act * max(0.0, 1.0 - cache_bytes / working)
        per_op.append(spill + (w_spill * op.weight_bytes / weights if weights > 0 and ops else 0.0))
    total = sum(per_op) if cost.ops else w_spill
    return total, tuple(per_op)


def predict(
    per_class: dict[str, float], cost: ModelCost, core: Core, params: Params, clock_ghz: float, threads: int
) -> Prediction:
    """Device latency of one inference with `threads` threads at `clock_ghz`."""
    used = max(1, min(threads, core.compute_cores))
    scale = params.k * thread_scale(used, params.parallel_fraction) / (clock_ghz * 1e6)  # cycles -> ms
    unmodelled = tuple(c for c, n in per_class.items() if n and c not in core.cpi)
    per_class_ms = {c: n * core.cpi.get(c, 1.0) * scale for c, n in per_class.items() if n}
    spill, per_op = spilled_bytes(cost, core.cache_bytes(used))
    memory_ms = spill / (params.beta * core.dram_gbps * 1e9) * 1e3
    compute_ms = sum(per_class_ms.values())
    return Prediction(
        latency_ms=compute_ms + memory_ms,
        compute_ms=compute_ms,
        memory_ms=memory_ms,
        per_class_ms=per_class_ms,
        spilled_bytes=spill,
        per_op_spill=per_op,
        threads=used,
        unmodelled_classes=unmodelled,
    )


def design_row(
    per_class: dict[str, float],
    cost: ModelCost,
    core: Core,
    clock_ghz: float,
    threads: int,
    parallel_fraction: float = PARALLEL_FRACTION,
) -> tuple[float, float]:
    """(compute ms at k=1, memory ms at beta=1): latency = k * a + b / beta, linear in (k, 1/beta)."""
    unit = predict(per_class, cost, core, Params(1.0, 1.0, parallel_fraction), clock_ghz, threads)
    return unit.compute_ms, unit.memory_ms


def load_params_doc() -> dict[str, Any]:
    """The shipped fit (params.json): parameters, rows used, leave-one-out errors, intervals."""
    try:
        text = resources.files("edge_kit.estimate").joinpath(*PARAMS_FILE.split("/")).read_text(encoding="utf-8")
        doc = json.loads(text)
        doc["params"]["k"], doc["params"]["beta"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(
            f"the estimate's fitted parameters ({PARAMS_FILE}) are unreadable: {exc}",
            hint="re-fit them: python -m edge_kit.estimate.calibrate --write",
        ) from None
    return doc


def params_from_doc(doc: dict[str, Any]) -> Params:
    p = doc["params"]
    return Params(float(p["k"]), float(p["beta"]), float(p.get("parallel_fraction", PARALLEL_FRACTION)))
