"""`edgekit bench`: every format × precision exported, validated, measured and profiled on a target,
then one leaderboard that answers "which should I ship to this device?".
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge_kit.benchmark.cells import FAILED, OK, CellSpec, run_cell
from edge_kit.benchmark.leaderboard import leaderboard
from edge_kit.benchmark.live import DONE_STAGES, LiveProgress
from edge_kit.errors import UsageError
from edge_kit.fsutil import check_writable
from edge_kit.proc import stop_all
from edge_kit.registry import get_format
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
    devices: str | None = None  # a device group (or names): profile every cell on each of them over SSH
    devices_file: Path | None = None  # default: $EDGEKIT_DEVICES, else ~/.config/edgekit/devices.toml


def _default_formats(req: BenchRequest, framework: str | None) -> list[str]:
    """The target's preferred formats this source can reach (a JAX model has no ExecuTorch path)."""
    from edge_kit import registry

    preferred = list(get_target(req.target).preferred_formats)
    reachable = [f for f in preferred if framework is None or registry.precisions(framework, f)]
    return reachable or preferred


def _specs(req: BenchRequest, framework: str | None = None) -> list[CellSpec]:
    formats = [get_format(f).name for f in req.formats] if req.formats else _default_formats(req, framework)
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
    return [
        CellSpec(
            Path(req.model).resolve(),
            get_target(req.target).name,
            f,
            p,
            shared + (calibration if p == "int8" else []),
            profile_args,
            hashed + (cal_files if p == "int8" else []),
        )
        for f in formats
        for p in req.precisions
    ]


def host_threads(jobs: int, cells: int) -> int:
    """Framework threads per export, so that side-by-side exports share the cores, never exceed them."""
    return max(1, (os.cpu_count() or 1) // max(1, min(jobs, cells)))


def _profile_slots(req: BenchRequest) -> int:
    """How many cells may profile at once without oversubscribing the host with emulated threads."""
    cores = os.cpu_count() or 1
    threads = req.num_threads or get_target(req.target).resolved_cores()
    return max(1, cores // min(threads, cores))


def bench(req: BenchRequest) -> dict[str, Any]:
    """Run every cell (in parallel, up to `jobs`), then build the leaderboard and reports."""
    from edge_kit.benchmark.report import write_reports
    from edge_kit.models import sniff_source
    from edge_kit.registry import source_type

    kind = sniff_source(Path(req.model))  # a missing, empty, corrupt or exported file fails before any cell runs
    framework = source_type(getattr(kind, "value", kind)).framework
    check_writable(Path(req.output), directory=True)
    specs = _specs(req, framework)
    devices = _devices(req)
    jobs = req.jobs or os.cpu_count() or 1
    for spec in specs:
        spec.host_threads = host_threads(jobs, len(specs))
    gate = threading.Semaphore(_profile_slots(req))
    start = time.perf_counter()
    out = Path(req.output)
    with (
        LiveProgress([s.name for s in specs], [d.name for d in devices]) as live,
        _fanout(req, specs, devices, live) as fanout,
        ThreadPoolExecutor(max_workers=jobs) as pool,
    ):

        def one(spec: CellSpec) -> dict[str, Any]:
            report = live.callback(spec.name)
            on_stage = (lambda s: report(f"{s} here, devices next" if s in DONE_STAGES else s)) if fanout else report
            cell = run_cell(
                spec,
                out / "cells" / spec.name,
                force=req.force,
                profile_gate=gate,
                timeout_s=req.timeout_s,
                on_stage=on_stage,
            )
            if fanout:
                cell = fanout.run(spec, out / "cells" / spec.name, cell, force=req.force)
                cached = cell.get("cached") and all(d.get("cached") for d in cell["devices"].values())
                report("cached" if cached else cell["status"])
            return cell

        try:
            cells = list(pool.map(one, specs))
        except BaseException:  # Ctrl-C, SIGTERM: no new cell, running exports stop and clean up
            pool.shutdown(wait=False, cancel_futures=True)
            stop_all()
            raise
    board = leaderboard(cells, out / "cells", req.budget, get_target(req.target), [d.summary() for d in devices])
    board.update(
        model=str(req.model),
        target=get_target(req.target).summary(),
        jobs=jobs,
        wall_s=round(time.perf_counter() - start, 1),
        settings={
            "formats": sorted({s.format for s in specs}),
            "precisions": req.precisions,
            "num_runs": req.num_runs,
            "calibration": req.calibration,
            "eval": str(req.eval_data) if req.eval_data else None,
            "budget_points": req.budget,
            "devices": req.devices,
        },
    )
    write_reports(board, out)
    return board


def _devices(req: BenchRequest) -> list[Any]:
    if not req.devices:
        return []
    from edge_kit.devices import load_inventory

    return load_inventory(req.devices_file).select(req.devices)


@contextmanager
def _fanout(req: BenchRequest, specs: list[CellSpec], devices: list[Any], live: LiveProgress) -> Iterator[Any]:
    """The device fan-out (None without --devices)."""
    if not devices:
        yield None
        return
    from edge_kit.benchmark.fanout import Fanout

    with Fanout(
        devices,
        get_target(req.target).name,
        specs[0].profile_args if specs else [],
        req.timeout_s,
        req.devices_file,
        on_device=live.device,
    ) as fanout:
        yield fanout


__all__ = ["FAILED", "OK", "BenchRequest", "bench"]
