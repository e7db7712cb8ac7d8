"""Boards without published rows: which calibrated parameters they use, and the error budget that implies.

A board whose core was calibrated on another board (raspi5: Cortex-A76, like the Pixel 4) uses that
core's k_fp32/k_int8; a board whose core was never calibrated names a calibrated core to borrow
from in its [microarch] table (`params_from`, with the reason in `assumptions`). beta is shared.
Each assumption then contributes a term to the error budget, in log space, combined as a root
sum of squares and stated as ±%:

- base:       the borrowed core's own out-of-sample error (the interval of the board it was fitted on);
- memory:     beta transfers to this board's memory system within a factor MEMORY_FACTOR, weighted
              by the share of the estimate that is memory-bound;
- efficiency: the share of the documented issue cost this board's kernels pay (k) is not measured:
              it is taken from the calibrated core, and may differ from it as much as the two
              calibrated boards differ from each other, |ln k_A72 - ln k_A76| at this model's int8
              share (fp32 ~0.33, int8 ~0.5: the boards ran different runtimes and cores), weighted
              by the compute-bound share. For a board with a calibrated core (raspi5) this is the
              runtime and board transfer: the Pixel 4 rows ran TFLite's 2020 kernels, a Pi 5 runs
              XNNPACK; for a borrowed core it is the core transfer as well.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from edge_kit.estimate.model import Core, CoreParams, Params, Prediction

MEMORY_FACTOR = 2.0


@dataclass(frozen=True)
class Budget:
    """The ± for one estimate on a board without rows, and the terms it is made of (log space)."""

    pct: int
    terms: dict[str, float]
    source_core: str
    source_board: str


def _round5(pct: float) -> int:
    return int(5 * math.ceil(pct / 5.0 - 1e-9))


def board_of(doc: dict[str, Any], core: str) -> str | None:
    """The calibrated board (edgekit target) whose published rows fitted `core`."""
    boards = sorted({r["edgekit_target"] for r in doc["rows"] if r.get("core") == core})
    return boards[0] if boards else None


def _spread(cores: list[CoreParams], s: float) -> float:
    ks = [math.log(c.k(s)) for c in cores]
    return max(ks) - min(ks) if len(ks) > 1 else 0.0


def budget(doc: dict[str, Any], params: Params, core: Core, source_core: str, pred: Prediction) -> Budget:
    """The error budget of `pred` on a board without rows whose parameters come from `source_core`."""
    board = board_of(doc, source_core) or ""
    base_pct = doc["interval_pct"]["calibrated"].get(board, max(doc["interval_pct"]["calibrated"].values()))
    mem = pred.memory_ms / pred.latency_ms if pred.latency_ms > 0 else 0.0
    calibrated = list(params.cores.values())
    terms = {
        "base": math.log(1 + base_pct / 100),
        "memory": mem * math.log(MEMORY_FACTOR),
        "efficiency": (1 - mem) * _spread(calibrated, pred.int_share),
    }
    total = math.sqrt(sum(t * t for t in terms.values()))
    return Budget(_round5(100 * (math.exp(total) - 1)), {k: round(v, 4) for k, v in terms.items()}, source_core, board)


def describe(b: Budget, core: Core) -> str:
    """The note of an uncalibrated estimate: why, where the parameters come from, the budget's terms."""
    parts = ", ".join(f"{name} {100 * (math.exp(v) - 1):.0f}%" for name, v in b.terms.items())
    where = (
        f"its core ({core.name}) is calibrated on {b.source_board}; this board's memory system is not"
        if core.name == b.source_core
        else f"its core ({core.name}) was never calibrated: parameters of {b.source_core} ({b.source_board})"
    )
    return f"uncalibrated: ±{b.pct}% (no published row for this board; {where}; error budget: {parts})"
