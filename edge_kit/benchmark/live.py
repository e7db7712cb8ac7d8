"""Bench progress: overall and per cell with elapsed time (rich on a terminal, plain lines in CI logs)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from edge_kit import progress

DONE_STAGES = ("ok", "outside", "failed", "cached")


class LiveProgress:
    """Thread-safe progress for the bench's cells."""

    def __init__(self, cells: list[str], devices: list[str] | None = None) -> None:
        self.cells, self.devices, self.done, self._lock = cells, devices or [], 0, threading.Lock()
        self._rich: Any = None
        self._tasks: dict[str, Any] = {}
        self._start: dict[str, float] = {}

    def __enter__(self) -> LiveProgress:
        if progress.is_tty() and not progress._quiet:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._rich = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
            )
            self._rich.__enter__()
            self._overall = self._rich.add_task("bench: all cells", total=len(self.cells))
            self._tasks = {n: self._rich.add_task(f"  {n}: queued", total=1, start=False) for n in self.cells}
            self._tasks.update(
                {f"@{d}": self._rich.add_task(f"  device {d}: idle", total=None, start=False) for d in self.devices}
            )
        else:
            progress.log(
                f"bench: {len(self.cells)} cells: {', '.join(self.cells)}"
                + (f"; devices: {', '.join(self.devices)}" if self.devices else "")
            )
        return self

    def callback(self, name: str) -> Callable[[str], None]:
        return lambda stage: self.stage(name, stage)

    def stage(self, name: str, stage: str) -> None:
        with self._lock:
            finished = stage in DONE_STAGES
            self.done += finished
            now = time.perf_counter()
            elapsed = now - self._start.setdefault(name, now)
            if self._rich is not None:
                task = self._tasks[name]
                self._rich.start_task(task)
                self._rich.update(task, description=f"  {name}: {stage}", completed=1 if finished else 0)
                self._rich.update(self._overall, completed=self.done)
            else:
                progress.log(f"bench: [{self.done}/{len(self.cells)}] {name}: {stage} ({elapsed:.0f}s)")

    def device(self, name: str, text: str) -> None:
        """Per-device progress: what the device is doing now."""
        with self._lock:
            if self._rich is not None:
                self._rich.update(self._tasks[f"@{name}"], description=f"  device {name}: {text}")
            else:
                progress.log(f"bench: device {name}: {text}")

    def __exit__(self, *exc: object) -> None:
        if self._rich is not None:
            self._rich.__exit__(*exc)
