"""Fan-out: every bench cell's artifact profiled on every device of a group, over SSH.

Export (and the emulated profile with its estimate) stays local; then each device profiles
the cell's artifact with `edgekit profile --device NAME` in a subprocess, the command a user
runs, so the figures are the same. A device runs at most `concurrency` jobs at once
(default 1: two jobs on one board at once slow each other and give wrong numbers);
different devices work concurrently. Each job records when it started and finished.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge_kit.benchmark.cells import FAILED, OK, CellSpec, _edgekit, error_line
from edge_kit.devices import Device
from edge_kit.fsutil import write_text_atomic

SKIPPED = "skipped"


@dataclass
class Fanout:
    """Runs device jobs in one queue per device, `concurrency` workers each (so a busy device
    never holds up an idle one)."""

    devices: list[Device]
    bench_target: str
    profile_args: list[str]
    timeout_s: float
    devices_file: Path | None = None
    on_device: Callable[[str, str], None] = lambda name, text: None
    _queues: dict[str, ThreadPoolExecutor] = field(init=False)

    def __post_init__(self) -> None:
        self._queues = {
            d.name: ThreadPoolExecutor(max_workers=d.concurrency, thread_name_prefix=f"edgekit-{d.name}")
            for d in self.devices
        }

    def __enter__(self) -> Fanout:
        return self

    def __exit__(self, *exc: object) -> None:
        for queue in self._queues.values():
            queue.shutdown(wait=True, cancel_futures=True)

    def run(self, spec: CellSpec, folder: Path, cell: dict[str, Any], *, force: bool) -> dict[str, Any]:
        """The cell with a `devices` section, one result per device (reused while its key matches),
        also saved into the cell's cell.json."""
        artifact = folder / cell["artifact"]
        if cell.get("export_exit_code") not in (0, 6) or not artifact.exists():
            reason = "the export failed: nothing to profile"
            return {**cell, "devices": {d.name: {"status": SKIPPED, "reason": reason} for d in self.devices}}
        previous, results = cell.get("devices") or {}, {}
        futures: dict[str, Future[dict[str, Any]]] = {}
        for device in self.devices:
            key, old = self._key(cell["key"], device), previous.get(device.name) or {}
            if not force and old.get("key") == key and old.get("status") == OK:
                results[device.name] = {**old, "cached": True}
                self.on_device(device.name, f"{spec.name}: cached")
            else:
                self.on_device(device.name, f"{spec.name}: queued")
                futures[device.name] = self._queues[device.name].submit(self._job, device, spec.name, artifact, key)
        results.update({name: future.result() for name, future in futures.items()})
        cell = {**cell, "devices": {d.name: results[d.name] for d in self.devices}}
        write_text_atomic(
            folder / "cell.json", json.dumps({k: v for k, v in cell.items() if k != "cached"}, indent=2) + "\n"
        )
        return cell

    def _key(self, cell_key: str, device: Device) -> str:
        blob = json.dumps([cell_key, device.summary(), self.profile_args]).encode()
        return hashlib.sha256(blob).hexdigest()

    def _job(self, device: Device, cell: str, artifact: Path, key: str) -> dict[str, Any]:
        """`edgekit profile ARTIFACT --device NAME`, in one of the device's `concurrency` workers."""
        out = artifact.parent / "devices"
        out.mkdir(exist_ok=True)
        args = [
            "profile",
            str(artifact),
            "--device",
            device.name,
            "--report",
            str(out / device.name),
            *self.profile_args,
        ]
        args += ["--devices-file", str(self.devices_file)] if self.devices_file else []
        args += [] if device.target else ["--target", self.bench_target]
        log = out / f"{device.name}.log"
        self.on_device(device.name, f"{cell}: profiling")
        started = time.time()
        code, _ = _edgekit(args, log, self.timeout_s)
        finished = time.time()
        status = OK if code == 0 else FAILED
        reason = "" if code == 0 else error_line(log)
        self.on_device(
            device.name, f"{cell}: {status} in {finished - started:.1f}s" + (f" ({reason})" if reason else "")
        )
        return {
            "status": status,
            "reason": reason,
            "exit_code": code,
            "key": key,
            "target": device.target or self.bench_target,
            "address": str(device.address),
            "started": round(started, 3),
            "finished": round(finished, 3),
        }
