"""Progress and log lines, always on stderr (stdout is reserved for --json output).

On a terminal a step shows a live spinner with elapsed time (rich); elsewhere
(CI logs, pipes) each step prints plain lines: a start line and a done line.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from typing import Any

_quiet = False


def set_quiet(quiet: bool) -> None:
    """Silence informational lines (errors are still printed by the CLI)."""
    global _quiet
    _quiet = quiet


def is_tty() -> bool:
    return sys.stderr.isatty() and os.environ.get("TERM") != "dumb"


def log(message: str) -> None:
    """One informational line on stderr."""
    if not _quiet:
        print(f"edgekit: {message}", file=sys.stderr, flush=True)


def warn(message: str) -> None:
    """One warning line on stderr (printed even when quiet)."""
    print(f"edgekit: warning: {message}", file=sys.stderr, flush=True)


def _console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


@contextlib.contextmanager
def step(label: str) -> Iterator[None]:
    """Show `label` while the block runs, then how long it took."""
    start = time.perf_counter()
    if _quiet:
        yield
        return
    if is_tty():
        with _console().status(f"{label}..."):
            yield
    else:
        log(f"{label}...")
        yield
    log(f"{label}: done in {time.perf_counter() - start:.1f}s")


class Bar:
    """A determinate progress bar (rich on a terminal, plain percentage lines otherwise)."""

    def __init__(self, label: str, total: float) -> None:
        self.label, self.total, self.done = label, total, 0.0
        self._rich: Any = None
        self._task: Any = None
        self._last_pct = -1
        self._start = time.perf_counter()

    def __enter__(self) -> Bar:
        if not _quiet and is_tty():
            from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

            self._rich = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TaskProgressColumn(),
                TimeElapsedColumn(),
                console=_console(),
            )
            self._rich.__enter__()
            self._task = self._rich.add_task(self.label, total=self.total)
        else:
            log(f"{self.label}: started")
        return self

    def advance(self, amount: float = 1.0, note: str | None = None) -> None:
        self.done += amount
        if self._rich is not None:
            self._rich.update(
                self._task, completed=self.done, description=f"{self.label} {note}" if note else self.label
            )
            return
        pct = int(100 * self.done / self.total) if self.total else 100
        if pct // 10 != self._last_pct // 10 or note:
            self._last_pct = pct
            log(f"{self.label}: {pct}%" + (f" ({note})" if note else ""))

    def __exit__(self, *exc: object) -> None:
        if self._rich is not None:
            self._rich.__exit__(*exc)
        if exc[0] is None:
            log(f"{self.label}: done in {time.perf_counter() - self._start:.1f}s")
