"""The latency model: a per-operator roofline on counted instructions and bytes spilled past the caches.

    issue_ms   = sum_c(n_c * cpi_c) * ((1 - P) + P / threads) / clock      (the whole inference)
    compute_i  = k * issue_ms * work_i / sum(work)                          (operator i's share)
    memory_i   = spilled_bytes_i / (beta * dram_peak)
    latency_ms = sum_i max(compute_i, memory_i)

n_c: instructions of class c per inference, counted under QEMU; cpi_c: cycles per instruction of
class c on the target's core (1 / documented sustained issue rate, the target's [microarch]
table); P: the parallel fraction (measured on the calibration models, not fitted); work_i:
operator i's static work (MACs + output elements, from the artifact); spilled_bytes_i: the part
of its working set that exceeds the on-chip caches, plus its weights (`spilled_bytes`). Each
operator is either compute-bound or memory-bound, and takes the longer of the two times.

k is the share of the serial issue cost the core actually pays; it differs between the fp32
(FMLA) and the int8 (SMLAL/SDOT) kernels, so each calibrated core has two: k_fp32 and k_int8,
blended by the share of multiply-accumulate instructions that are integer (`int_share`).
beta, the fraction of a board's peak DRAM bandwidth that spilled traffic reaches, is shared by
all boards. Five parameters, fitted by `edge_kit.estimate.calibrate` on the published rows only;
docs/estimate.md explains each term and what it is fitted on.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from importlib import resources
from typing import Any

from edge_kit.errors import DataError
from edge_kit.estimate.opcost import ModelCost
from edge_kit.targets import Target

METHOD = "per-operator roofline: counted instructions x documented issue rates vs spilled bytes"
METHOD_VERSION = "2"
PARAMS_FILE = "data/params.json"
# Fraction of the counted work that intra-operator threading spreads over the threads. Measured,
# not fitted: the 10 calibration records counted on 4 guest threads put 3.74-3.97x (median 3.90)
# the busiest thread's SIMD work on all threads together, P = 0.977-0.997, median 0.99
# (benchmarks/bench_estimate.py --thread-balance).
PARALLEL_FRACTION = 0.99
INT_MAC_CLASSES = ("neon_int_mac", "dotprod", "mmla")
FP_MAC_CLASSES = ("neon_fmla",)


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
    params_from: str = ""  # a calibrated core whose parameters this one borrows (boards without rows)
    assumptions: str = ""  # why that borrowing is reasonable, and what it leaves out

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
            params_from=m.params_from,
            assumptions=m.assumptions,
        )

    def cache_bytes(self, threads: int) -> int:
        """On-chip capacity the working set can use: the shared level plus the active cores' L2s."""
        return (self.shared_cache_kb + threads * self.l2_kb) * 1024


@dataclass(frozen=True)
class CoreParams:
    """A calibrated core's compute efficiency for fp32 and for int8 kernels."""

    k_fp32: float
    k_int8: float

    def k(self, int_share: float) -> float:
        """Geometric blend by the share of integer multiply-accumulate instructions."""
        s = min(max(int_share, 0.0), 1.0)
        return math.exp((1.0 - s) * math.log(self.k_fp32) + s * math.log(self.k_int8))


@dataclass(frozen=True)
class Params:
    """The fitted parameters (params.json holds the fit that produced them)."""

    cores: dict[str, CoreParams]
    beta: float
    parallel_fraction: float = PARALLEL_FRACTION

    def for_core(self, core: Core) -> tuple[CoreParams, str] | None:
        """(parameters, the calibrated core they come from) for `core`, or None."""
        if core.name in self.cores:
            return self.cores[core.name], core.name
        if core.params_from in self.cores:
            return self.cores[core.params_from], core.params_from
        return None


@dataclass(frozen=True)
class Workload:
    """What one inference asks of one board, before any fitted parameter."""

    op_compute_ms: tuple[float, ...]  # issue cost at k = 1, threads applied, per operator
    op_spill_bytes: tuple[float, ...]
    per_class_ms: dict[str, float]  # issue cost at k = 1 by instruction class
    int_share: float
    dram_gbps: float
    threads: int
    unmodelled_classes: tuple[str, ...]


@dataclass(frozen=True)
class Prediction:
    """One estimate and how it splits."""

    latency_ms: float
    compute_ms: float  # time of the compute-bound operators
    memory_ms: float  # time of the memory-bound operators
    compute_total_ms: float  # all operators' compute, as if nothing were memory-bound
    memory_total_ms: float
    per_class_ms: dict[str, float]
    spilled_bytes: float
    per_op_ms: tuple[float, ...]
    per_op_spill: tuple[float, ...]
    per_op_memory_bound: tuple[bool, ...]
    memory_bound_ops: int
    threads: int
    k: float
    int_share: float
    unmodelled_classes: tuple[str, ...]


def thread_scale(threads: int, parallel_fraction: float) -> float:
    """Amdahl: the share of single-thread time the busiest of `threads` threads takes."""
    return (1.0 - parallel_fraction) + parallel_fraction / max(threads, 1)


def int_share(per_class: dict[str, float]) -> float:
    """Share of the multiply-accumulate instructions that are integer (0: fp32 kernels, 1: int8)."""
    ints = sum(per_class.get(c, 0.0) for c in INT_MAC_CLASSES)
    fps = sum(per_class.get(c, 0.0) for c in FP_MAC_CLASSES)
    return ints / (ints + fps) if ints + fps > 0 else 0.0


def spilled_bytes(cost: ModelCost, cache_bytes: int) -> tuple[float, tuple[float, ...]]:
    """(total, per operator) bytes that go to DRAM in one inference.

    An operator whose working set W (inputs + outputs + weights) exceeds the cache C moves the
    fraction 1 - C/W of its activation bytes to and from DRAM. Weights are read once per
    inference, in the same order every time: when all of them (with the largest activation
    working set) exceed the cache, an LRU cache keeps none of them from one inference to the
    next, so every operator reads its weights from DRAM; when they fit, none do. Without a
    per-operator analysis, the artifact's size stands for its weights and activations are not
    counted."""
    weights = float(cost.weight_bytes)
    largest_act = max((o.in_bytes + o.out_bytes for o in cost.ops if not o.fused), default=0)
    weights_stream = weights + largest_act > cache_bytes
    per_op = []
    for op in cost.ops:
        act = float(op.in_bytes + op.out_bytes)
        working = act + op.weight_bytes
        spill = 0.0 if op.fused or working <= 0 else act * max(0.0, 1.0 - cache_bytes / working)
        per_op.append(spill + (float(op.weight_bytes) if weights_stream else 0.0))
    total = sum(per_op) if cost.ops else (weights if weights_stream else 0.0)
    return total, tuple(per_op)


def workload(
    per_class: dict[str, float],
    cost: ModelCost,
    core: Core,
    clock_ghz: float,
    threads: int,
    parallel_fraction: float = PARALLEL_FRACTION,
) -> Workload:
    """The parameter-free part of the estimate for one inference with `threads` threads at `clock_ghz`."""
    used = max(1, min(threads, core.compute_cores))
    scale = thread_scale(used, parallel_fraction) / (clock_ghz * 1e6)  # cycles -> ms
    per_class_ms = {c: n * core.cpi.get(c, 1.0) * scale for c, n in per_class.items() if n}
    issue_ms = sum(per_class_ms.values())
    spill, per_op_spill = spilled_bytes(cost, core.cache_bytes(used))
    work = [o.work for o in cost.ops]
    total_work = sum(work)
    if cost.ops and total_work > 0:
        op_compute = tuple(issue_ms * w / total_work for w in work)
    else:  # no per-operator analysis: one operator holding everything
        op_compute, per_op_spill = (issue_ms,), (spill,)
    return Workload(
        op_compute_ms=op_compute,
        op_spill_bytes=per_op_spill,
        per_class_ms=per_class_ms,
        int_share=int_share(per_class),
        dram_gbps=core.dram_gbps,
        threads=used,
        unmodelled_classes=tuple(c for c, n in per_class.items() if n and c not in core.cpi),
    )


def predict_workload(w: Workload, core_params: CoreParams, beta: float) -> Prediction:
    """The roofline over operators for one workload and one set of parameters."""
    k = core_params.k(w.int_share)
    to_ms = 1e3 / (beta * w.dram_gbps * 1e9)
    compute = [k * c for c in w.op_compute_ms]
    memory = [b * to_ms for b in w.op_spill_bytes]
    per_op = tuple(max(c, m) for c, m in zip(compute, memory, strict=True))
    memory_bound = [m > c for c, m in zip(compute, memory, strict=True)]
    memory_ms = sum(m for m, bound in zip(memory, memory_bound, strict=True) if bound)
    return Prediction(
        latency_ms=sum(per_op),
        compute_ms=sum(per_op) - memory_ms,
        memory_ms=memory_ms,
        compute_total_ms=sum(compute),
        memory_total_ms=sum(memory),
        per_class_ms={c: v * k for c, v in w.per_class_ms.items()},
        spilled_bytes=sum(w.op_spill_bytes),
        per_op_ms=per_op,
        per_op_spill=w.op_spill_bytes,
        per_op_memory_bound=tuple(memory_bound),
        memory_bound_ops=sum(memory_bound),
        threads=w.threads,
        k=k,
        int_share=w.int_share,
        unmodelled_classes=w.unmodelled_classes,
    )


def predict(
    per_class: dict[str, float], cost: ModelCost, core: Core, params: Params, clock_ghz: float, threads: int
) -> Prediction:
    """Device latency of one inference with `threads` threads at `clock_ghz` (the core must have parameters)."""
    found = params.for_core(core)
    if found is None:
        raise DataError(f"no fitted parameters for core {core.name} (and no params_from in its [microarch])")
    return predict_workload(
        workload(per_class, cost, core, clock_ghz, threads, params.parallel_fraction), found[0], params.beta
    )


def load_params_doc() -> dict[str, Any]:
    """The shipped fit (params.json): parameters, rows used, cross-validated errors, intervals."""
    try:
        text = resources.files("edge_kit.estimate").joinpath(*PARAMS_FILE.split("/")).read_text(encoding="utf-8")
        doc = json.loads(text)
        params_from_doc(doc)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(
            f"the estimate's fitted parameters ({PARAMS_FILE}) are unreadable: {exc}",
            hint="re-fit them: python -m edge_kit.estimate.calibrate --write",
        ) from None
    return doc


def params_from_doc(doc: dict[str, Any]) -> Params:
    """The typed parameters of a params document (KeyError/ValueError when it is not one)."""
    if str(doc.get("method_version")) != METHOD_VERSION:
        raise ValueError(f"method version {doc.get('method_version')!r}, this edgekit reads {METHOD_VERSION}")
    p = doc["params"]
    cores = {name: CoreParams(float(c["k_fp32"]), float(c["k_int8"])) for name, c in p["cores"].items()}
    return Params(cores, float(p["beta"]), float(p.get("parallel_fraction", PARALLEL_FRACTION)))
