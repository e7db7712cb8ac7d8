"""The measurement gate: a native profile has the machine to itself; emulated ones share it by slots."""

from __future__ import annotations

import threading
import time

from edge_kit.benchmark.gate import MeasureGate


def _events(gate: MeasureGate) -> list[tuple[str, str, float]]:
    events: list[tuple[str, str, float]] = []
    lock = threading.Lock()

    def note(name: str, what: str) -> None:
        with lock:
            events.append((name, what, time.monotonic()))

    def export(name: str, delay: float) -> None:
        time.sleep(delay)
        with gate.exporting():
            note(name, "start")
            time.sleep(0.2)
            note(name, "end")

    def measure(name: str, delay: float) -> None:
        time.sleep(delay)
        with gate.measuring():
            note(name, "start")
            time.sleep(0.2)
            note(name, "end")

    threads = [
        threading.Thread(target=export, args=("export-1", 0.0)),
        threading.Thread(target=measure, args=("measure-1", 0.05)),
        threading.Thread(target=export, args=("export-2", 0.1)),  # asks while measure-1 waits
        threading.Thread(target=measure, args=("measure-2", 0.1)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return events


def _spans(events: list[tuple[str, str, float]]) -> dict[str, tuple[float, float]]:
    start = {n: t for n, w, t in events if w == "start"}
    return {n: (start[n], t) for n, w, t in events if w == "end"}


def test_a_native_measurement_runs_alone_and_new_exports_wait_for_it():
    spans = _spans(_events(MeasureGate(exclusive=True)))
    for m in ("measure-1", "measure-2"):
        for other, (s, e) in spans.items():
            if other != m:
                assert e <= spans[m][0] + 1e-3 or s >= spans[m][1] - 1e-3, (m, other, spans)
    assert spans["export-2"][0] >= spans["measure-1"][1] - 1e-3  # writers first: it asked after measure-1 waited


def test_emulated_profiles_overlap_exports_up_to_their_slots():
    spans = _spans(_events(MeasureGate(exclusive=False, slots=1)))
    m1, m2 = spans["measure-1"], spans["measure-2"]
    assert m1[1] <= m2[0] + 1e-3 or m2[1] <= m1[0] + 1e-3  # one slot: one profile at a time
    e1 = spans["export-1"]
    assert e1[0] < m1[1] and m1[0] < e1[1]  # but beside the exports
