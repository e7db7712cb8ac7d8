"""`edgekit bench`: every format × precision exported, validated, measured and profiled on a target,
then one leaderboard that answers "which should I ship to this device?".
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge_kit.bench.cells import FAILED, OK, CellSpec, run_cell
from edge_kit.bench.leaderboard import leaderboard
from edge_kit.bench.live import LiveProgress
from edge_kit.errors import UsageError
from edge_kit.fsutil import check_writable
from edge_kit.targets import PRECISIONS, get_target


@dataclass
class BenchRequest:
    model: Path
    target: str = "raspi4"
    formats: list[str] | None = None  # default: the target's preferred formats
    precisions: list[str] = field(default_factory=lambda: list(PRECISIONS))
    output: Path = Path("edgekit-bench")
    calibration: str | None = None
    eval_data: Path | None = None
    max_accuracy_drop: float | None = None  # passed to export (budget search) when given
    budget: float = 1.0  # judging: a cell whose drop exceeds this is outside the budget
    export_args: list[str] = field(default_factory=list)  # --input-shape, --model-class, ...
    num_runs: int = 3
    num_threads: int | None = None
    jobs: int | None = None
    force: bool = False
    timeout_s: float = 1800.0


def _specs(req: BenchRequest) -> list[CellSpec]:
    target = get_target(req.target)
    formats = req.formats or list(target.preferred_formats)
    unknown = [p for p in req.precisions if p not in PRECISIONS]
    if unknown:
        raise UsageError(f"unknown precision(s) {', '.join(unknown)}", hint=f"use {', '.join(PRECISIONS)}")
    shared, hashed = list(req.export_args), []
    if req.eval_data:
        shared += ["--eval", str(req.eval_data)]
        hashed.append(Path(req.eval_data))
    if req.max_accuracy_drop is not None:
        shared += ["--max-accuracy-drop", str(req.max_accuracy_drop)]
    calibration = ["--calibration", str(req.calibration)] if req.calibration else []
    profile_args = ["--num_runs", str(req.num_runs), "--warmup_runs", "1"]
    if req.num_threads:
        profile_args += ["--num_threads", str(req.num_threads)]
    cal_files = [Path(req.calibration)] if req.calibration and req.calibration != "random" else []
    # Calibration data only goes to static int8 cells (the others take none and refuse it).
    return [CellSpec(Path(req.model).resolve(), target.name, f, p, shared + (calibration if p == "int8" else []),
                     profile_args, hashed + (cal_files if p == "int8" else []))
            for f in formats for p in req.precisions]


def _profile_slots(req: BenchRequest) -> int:
    """How many cells may profile at once without oversubscribing the host with emulated threads."""
    cores = os.cpu_count() or 1
    threads = req.num_threads or get_target(req.target).resolved_cores()
    return max(1, cores // min(threads, cores))


def bench(req: BenchRequest) -> dict[str, Any]:
    """Run every cell (in parallel, up to `jobs`), then build the leaderboard and reports."""
    from edge_kit.bench.report import write_reports

    if not Path(req.model).exists():
        from edge_kit.errors import ModelLoadError

        raise ModelLoadError(f"model {req.model} does not exist", hint="check the path")
    check_writable(Path(req.output), directory=True)
    specs = _specs(req)
    jobs = req.jobs or os.cpu_count() or 1
    gate = threading.Semaphore(_profile_slots(req))
    start = time.perf_counter()
    out = Path(req.output)
    with LiveProgress([s.name for s in specs]) as live, ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(run_cell, spec, out / "cells" / spec.name, force=req.force, profile_gate=gate,
                               timeout_s=req.timeout_s, on_stage=live.callback(spec.name)) for spec in specs]
        cells = [f.result() for f in futures]
    board = leaderboard(cells, out / "cells", req.budget, get_target(req.target))
    board.update(model=str(req.model), target=get_target(req.target).summary(), jobs=jobs,
                 wall_s=round(time.perf_counter() - start, 1),
                 settings={"formats": sorted({s.format for s in specs}), "precisions": req.precisions,
                           "num_runs": req.num_runs, "calibration": req.calibration,
                           "eval": str(req.eval_data) if req.eval_data else None, "budget_points": req.budget})
    write_reports(board, out)
    return board


__all__ = ["BenchRequest", "FAILED", "OK", "bench"]
