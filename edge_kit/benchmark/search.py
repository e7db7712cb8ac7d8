"""The search for a static int8 cell outside the accuracy budget.

1. The path's other int8 recipes (`edgekit recipes`), most likely to recover accuracy first:
   channel-equalized and bias-corrected, then percentile ranges, then the other per-channel
   and per-tensor ones. Recipes that change the model's I/O type (int8/uint8 I/O) are not a
   drop-in replacement and are left out.
2. When none is within budget: mixed precision — the recipe that came closest, exported with
   `--max-accuracy-drop` (the export's own search keeps its most sensitive layers in float;
   `edge_kit/budget.py`).

Every attempt is exported, measured and profiled like the cell itself; the variant kept is
the fastest within budget (by device latency: measured, else estimated), or, when none is,
the one that came closest. `--search-time` bounds the wall time after the first attempt: no
attempt starts after it, and the one running is stopped at it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge_kit.benchmark.cells import FAILED, OK, OUTSIDE, CellSpec, Variant
from edge_kit.benchmark.criterion import Criterion
from edge_kit.benchmark.figures import manifest_of, rank_ms, variant_figures

SEARCHED = ("int8",)  # precisions with recipes to search (static int8: calibration and ranges)
STOPPED = "search time"

Attempt = Callable[[Variant, float], dict[str, Any]]


@dataclass
class Outcome:
    """The attempts a cell made (the first one first) and how the search ended."""

    attempts: list[dict[str, Any]]
    ran: bool = False
    skipped: str = ""  # why an int8 cell outside the budget was not searched
    stopped_by: str | None = None
    seconds: float = 0.0
    search_time: float = 0.0
    tried: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ran": self.ran,
            "skipped": self.skipped or None,
            "stopped_by": self.stopped_by,
            "seconds": round(self.seconds, 1),
            "search_time": self.search_time,
            "variants": self.tried,
        }


def alternatives(manifest: dict[str, Any]) -> list[str]:
    """The other recipes of the first attempt's path and precision, in the order they are tried."""
    from edge_kit.recipes import all_recipes, get_recipe

    name = (manifest.get("quantization") or {}).get("recipe")
    if not name:
        return []
    first = get_recipe(name)
    framework = manifest["source"]["framework"]
    framework = framework if framework in first.sources else first.sources[0]
    others = [
        r
        for r in all_recipes().values()
        if r.format == first.format
        and r.precision == first.precision
        and framework in r.sources
        and r.io_type == "float32"
        and r.name != first.name
    ]
    others.sort(key=lambda r: (not r.prepares_source, r.calibration_method != "percentile", not r.per_channel, r.name))
    return [r.name for r in others]


def _folder(cell: Path, record: dict[str, Any]) -> Path:
    return cell / record["dir"] if record.get("dir") else cell


def _figures(cell: Path, record: dict[str, Any], criterion: Criterion) -> dict[str, Any]:
    if record["status"] == FAILED:
        return {}
    return variant_figures(_folder(cell, record), record["artifact"], criterion)


def _why_not(spec: CellSpec, first: dict[str, Any], figures: dict[str, Any]) -> str | None:
    """None when the cell needs no search; else '' to search, or why it cannot be searched."""
    if spec.precision not in SEARCHED or first["status"] == FAILED or figures.get("judged") == OK:
        return None
    q = figures.get("quality") or {}
    if not q or q.get("data") == "validation inputs":
        return "no --eval data: no accuracy to search on"
    if spec.search_time <= 0:
        return "search off (--search-time 0)"
    return ""


def run(spec: CellSpec, folder: Path, first: dict[str, Any], attempt: Attempt) -> Outcome:
    """The first attempt, then (when it is outside the budget) the other recipes, then mixed precision."""
    outcome = Outcome([first], search_time=spec.search_time)
    why = _why_not(spec, first, _figures(folder, first, spec.criterion))
    if why is None or why:
        outcome.skipped = why or ""
        return outcome
    outcome.ran, start = True, time.monotonic()
    left = lambda: spec.search_time - (time.monotonic() - start)  # noqa: E731
    manifest = manifest_of(folder, first["artifact"]) or {}
    for name in alternatives(manifest):
        if left() <= 0:
            outcome.stopped_by = STOPPED
            break
        outcome.tried.append(name)
        outcome.attempts.append(attempt(Variant(name), left()))
    figures = [(r, _figures(folder, r, spec.criterion)) for r in outcome.attempts]
    mixed = "--max-accuracy-drop" not in spec.export_args
    if mixed and not outcome.stopped_by and not any(f.get("judged") == OK for _, f in figures):
        closest = _closest(figures)
        if closest is not None and left() > 0:
            record, figs = closest
            metric = str(figs["quality"]["metric"]).removeprefix("top1_")
            variant = Variant(record["variant"]["recipe"] or figs.get("recipe"), spec.criterion.max_drop(metric))
            outcome.tried.append(variant.slug)
            outcome.attempts.append(attempt(variant, left()))
    if left() <= 0 and outcome.stopped_by is None and _timed_out(outcome.attempts[-1]):
        outcome.stopped_by = STOPPED
    outcome.seconds = time.monotonic() - start
    return outcome


def _timed_out(record: dict[str, Any]) -> bool:
    return record.get("export_exit_code") == 124


def _closest(figures: list[tuple[dict[str, Any], dict[str, Any]]]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The exported attempt with the best measured quality (then the smaller output error)."""
    measured = [(r, f) for r, f in figures if (f.get("quality") or {}).get("value") is not None]
    if not measured:
        return None
    return max(measured, key=lambda rf: (rf[1]["quality"]["value"], -(rf[1]["quality"].get("output_error") or 0.0)))


def choose(outcome: Outcome, folder: Path, criterion: Criterion) -> dict[str, Any]:
    """The cell's result: the fastest attempt within budget, else the closest one, else the first."""
    figures = [(r, _figures(folder, r, criterion)) for r in outcome.attempts]
    within = [(r, f) for r, f in figures if r["status"] == OK and f.get("judged") == OK]
    chosen = min(within, key=lambda rf: rank_ms(rf[1])) if within else _closest(figures) or figures[0]
    record, figs = chosen
    status = record["status"] if record["status"] == FAILED else figs.get("judged", OUTSIDE)
    reason = record["reason"] if record["status"] == FAILED else figs.get("reason", "")
    if outcome.ran and status != OK:
        reason = f"no variant within the budget after {len(outcome.attempts)} attempts; closest: {reason}"
    return {
        "status": status,
        "reason": reason,
        "artifact": f"{record['dir']}/{record['artifact']}" if record.get("dir") else record["artifact"],
        "variant_dir": record.get("dir") or "",
        "export_exit_code": record["export_exit_code"],
        "chosen_attempt": outcome.attempts.index(record),
        "attempts": [{k: v for k, v in r.items() if k != "cached"} for r in outcome.attempts],
        "search": outcome.to_dict(),
    }


def resume(cached: dict[str, Any], search_time: float) -> bool:
    """Whether a finished cell's search was cut short by a smaller `--search-time` than this one."""
    search = cached.get("search") or {}
    return search.get("stopped_by") == STOPPED and search_time > float(search.get("search_time") or 0)
