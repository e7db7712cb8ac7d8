"""Who may use the host's cores while a cell is measured.

Emulated profiles time QEMU, not the device (the device figure comes from instruction
counts), so they only need to share the cores fairly: at most `slots` at once. A native
measurement (target host) *is* the figure: it runs alone — no export, no other profile —
or the number is the neighbours' load (a MobileNetV2 int8 profile beside two exports read
41 ms instead of 3). Writers first: once a measurement waits, no new export starts.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class MeasureGate:
    """Exports share the machine; a native measurement has it to itself."""

    def __init__(self, exclusive: bool, slots: int = 1) -> None:
        self.exclusive = exclusive
        self._slots = threading.Semaphore(max(1, slots))
        self._cond = threading.Condition()
        self._working = 0  # exports running
        self._measuring = False
        self._waiting = 0  # measurements waiting for the machine

    @contextmanager
    def exporting(self) -> Iterator[None]:
        if not self.exclusive:
            yield
            return
        with self._cond:
            self._cond.wait_for(lambda: not self._measuring and not self._waiting)
            self._working += 1
        try:
            yield
        finally:
            with self._cond:
                self._working -= 1
                self._cond.notify_all()

    @contextmanager
    def measuring(self) -> Iterator[None]:
        if not self.exclusive:
            with self._slots:
                yield
            return
        with self._cond:
            self._waiting += 1
            self._cond.wait_for(lambda: not self._measuring and not self._working)
            self._waiting -= 1
            self._measuring = True
        try:
            yield
        finally:
            with self._cond:
                self._measuring = False
                self._cond.notify_all()
