"""The accuracy budget: keep the layers most responsible for an accuracy drop in float.

Format-independent: the search sees layer names (each exporter names its own: torch
module paths, ONNX node names, TFLite tensor names) and a `build(keep_float)` callback
that re-quantizes with those layers in float and returns the measured accuracy.

1. Sensitivity: each layer (or, above `max_probes` layers, each contiguous group of
   layers) is kept in float alone and the drop re-measured.
2. Greedy: layers are added in order of sensitivity (the drop they recover, then the
   output error they remove: a finer signal than top-1 on small eval sets) until the
   drop fits the budget.

Cost is bounded: at most `max_probes + max_steps` re-quantizations (8 + 6 by default), each one
quantization (with calibration) plus one pass over the eval set. When the budget still
does not hold, the best attempt is kept and the outcome says so ("over_budget").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from edge_kit.accuracy import Accuracy

WITHIN = "within_budget"
RESCUED = "rescued"
OVER = "over_budget"

Build = Callable[[tuple[str, ...]], Accuracy]


@dataclass(frozen=True)
class Limits:
    """How much work the search may do."""

    max_probes: int = 8
    max_steps: int = 6


@dataclass
class Search:
    """The search's record, as written to the manifest."""

    budget: float
    initial: Accuracy
    layers: int
    status: str = WITHIN
    keep_float: tuple[str, ...] = ()
    final: Accuracy | None = None
    probes: list[dict[str, Any]] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)
    quantizations: int = 0
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        final = self.final or self.initial
        return {
            "max_drop": self.budget,
            "status": self.status,
            "quantizable_layers": self.layers,
            "initial_drop": round(self.initial.drop, 4),
            "final_drop": round(final.drop, 4),
            "keep_float": list(self.keep_float),
            "probes": self.probes,
            "steps": self.steps,
            "requantizations": self.quantizations,
            "reason": self.reason,
        }


def _groups(layers: Sequence[str], limit: int) -> list[tuple[str, ...]]:
    """Layers one by one, or `limit` contiguous groups when there are more layers than that."""
    if len(layers) <= limit:
        return [(name,) for name in layers]
    size = -(-len(layers) // limit)
    return [tuple(layers[i : i + size]) for i in range(0, len(layers), size)]


class _Tracker:
    """Counts builds and remembers which keep-set the artifact on disk was built with."""

    def __init__(self, build: Build, search: Search) -> None:
        self.build, self.search = build, search
        self.last: tuple[str, ...] | None = None

    def __call__(self, keep: tuple[str, ...]) -> Accuracy:
        self.search.quantizations += 1
        self.last = keep
        return self.build(keep)


def fit(build: Build, layers: Sequence[str], initial: Accuracy, budget: float, limits: Limits = Limits()) -> Search:
    """Keep layers in float until `initial`'s drop fits `budget`; the artifact on disk ends up
    built with `Search.keep_float` (the artifact the caller already built when no search ran)."""
    search = Search(budget=budget, initial=initial, layers=len(layers), final=initial)
    if initial.drop <= budget:
        return search
    if not layers:
        search.status, search.reason = OVER, "this format and precision cannot keep layers in float"
        return search
    run = _Tracker(build, search)
    attempts: list[tuple[tuple[str, ...], Accuracy]] = []
    for group in _groups(layers, limits.max_probes):
        acc = run(group)
        attempts.append((group, acc))
        search.probes.append(
            {
                "keep_float": list(group),
                "drop": round(acc.drop, 4),
                "recovered": round(initial.drop - acc.drop, 4),
                "output_error": float(f"{acc.output_error:.4g}"),
            }
        )
        if acc.drop <= budget:
            return _finish(search, run, group, acc, RESCUED)
    ranked = sorted(attempts, key=lambda a: (a[1].drop, a[1].output_error))
    keep = ranked[0][0]
    _step(search, keep, ranked[0][1])  # the most sensitive layer alone: measured while probing
    for group, _ in ranked[1 : limits.max_steps]:
        keep = keep + group
        acc = run(keep)
        attempts.append((keep, acc))
        _step(search, keep, acc)
        if acc.drop <= budget:
            return _finish(search, run, keep, acc, RESCUED)
    best_keep, best = min(attempts, key=lambda a: (a[1].drop, len(a[0]), a[1].output_error))
    search.reason = (
        f"kept {len(best_keep)} of {len(layers)} layers in float; the drop is still {best.drop:.2f} points > {budget}"
    )
    return _finish(search, run, best_keep, best, OVER)


def _step(search: Search, keep: tuple[str, ...], acc: Accuracy) -> None:
    search.steps.append(
        {
            "keep_float": list(keep),
            "metric": round(acc.artifact, 4),
            "drop": round(acc.drop, 4),
            "output_error": float(f"{acc.output_error:.4g}"),
        }
    )


def _finish(search: Search, run: _Tracker, keep: tuple[str, ...], acc: Accuracy, status: str) -> Search:
    if run.last != keep:
        acc = run(keep)  # rebuild the chosen artifact: the last build was another attempt
    search.status, search.keep_float, search.final = status, keep, acc
    return search
