"""`edgekit bench --devices GROUP`: cells fanned out over two loopback devices, one job per device."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import SAMPLES, run_cli
from tests.devices.loopback import Loopback

ARGS = ("--target", "raspi", "--formats", "tflite,onnx", "--quantize", "fp32", "--num_runs", "3", "--devices", "lab")


@pytest.fixture(scope="module")
def fanned(inventory: Path, loopback: Loopback, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fanout") / "out"
    result = run_cli(
        "bench", SAMPLES / "digits_cnn.pt2", *ARGS, "--devices-file", inventory, "-o", out, "--json", timeout=900
    )
    assert result.code == 0, result.stderr[-3000:]
    assert json.loads(result.stdout) == json.loads((out / "bench.json").read_text())
    assert "bench: device pi-a: tflite-fp32: profiling" in result.stderr  # per-device progress
    return out


def _jobs(board: dict) -> list[tuple[str, str, float, float]]:
    return [
        (name, row["cell"], d["started"], d["finished"]) for row in board["rows"] for name, d in row["devices"].items()
    ]


def test_each_cell_runs_on_every_device_of_the_group(fanned: Path, loopback: Loopback):
    board = json.loads((fanned / "bench.json").read_text())
    for row in board["rows"]:
        assert row["status"] == "ok" and set(row["devices"]) == {"pi-a", "pi-b"}
        for name, d in row["devices"].items():
            profile = json.loads((fanned / "cells" / row["cell"] / "devices" / name / "profile.json").read_text())
            assert d["status"] == "ok" and d["measured_p50_ms"] == profile["latency"]["p50_ms"] > 0
            assert profile["backend"]["device"] == name and profile["machine"]["machine"] == "aarch64"
    assert all(not d.leftovers() for d in loopback.devices.values())


def test_one_job_per_device_at_a_time_and_devices_in_parallel(fanned: Path):
    jobs = _jobs(json.loads((fanned / "bench.json").read_text()))
    assert len(jobs) == 4
    for device in ("pi-a", "pi-b"):
        mine = sorted((s, f) for name, _, s, f in jobs if name == device)
        gaps = [s2 - f1 for (_, f1), (s2, _) in zip(mine, mine[1:], strict=False)]
        assert all(gap >= 0 for gap in gaps), (device, mine)  # its jobs never overlap
    overlaps = [(a, b) for a in jobs for b in jobs if a[0] < b[0] and a[2] < b[3] and b[2] < a[3]]
    assert overlaps, jobs  # the two devices worked at the same time


def test_report_compares_devices_and_records_the_estimates_error(fanned: Path):
    board = json.loads((fanned / "bench.json").read_text())
    assert board["ranked_by"] == "measured" and "measured on 2 device(s)" in board["recommendation"]
    assert [d["name"] for d in board["devices"]] == ["pi-a", "pi-b"]
    for device in board["devices"]:
        assert device["cells_measured"] == 2 and device["machine"] == "aarch64" and device["cpu_parts"] == ["0xd08"]
        assert device["mean_abs_estimate_error_pct"] is not None
    errors = board["estimate_vs_measured"]
    assert {(e["cell"], e["device"]) for e in errors} == {
        (c, d) for c in ("tflite-fp32", "onnx-fp32") for d in ("pi-a", "pi-b")
    }
    for e in errors:
        assert e["error_pct"] == round(100 * (e["estimated_ms"] - e["measured_ms"]) / e["measured_ms"], 1)
    md = (fanned / "bench.md").read_text()
    assert "## Devices" in md and "## Estimate vs measured" in md and "pi-a p50 (est. err)" in md
    assert "Estimate vs measured" in (fanned / "bench.html").read_text()


def test_a_rerun_reuses_the_device_results(fanned: Path, inventory: Path):
    before = _jobs(json.loads((fanned / "bench.json").read_text()))
    result = run_cli("bench", SAMPLES / "digits_cnn.pt2", *ARGS, "--devices-file", inventory, "-o", fanned, "--json")
    assert result.code == 0, result.stderr[-2000:]
    board = json.loads(result.stdout)
    assert all(d["cached"] for row in board["rows"] for d in row["devices"].values())
    assert _jobs(board) == before


def test_each_device_gets_its_own_queue_of_concurrency_workers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Scheduling alone (the profile subprocess replaced by a sleep): a device with concurrency 1 runs its
    jobs one after another, one with concurrency 2 two at a time, and neither waits for the other."""
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    from edge_kit.benchmark import fanout
    from edge_kit.benchmark.cells import CellSpec
    from edge_kit.devices import Device
    from edge_kit.remote import parse_address

    def fake(args: list[str], log: Path, timeout_s: float) -> tuple[int, str]:
        time.sleep(0.3 if "solo" in args else 0.2)
        return 0, ""

    monkeypatch.setattr(fanout, "_edgekit", fake)
    devices = [Device("solo", parse_address("a@h1"), "raspi4", 1), Device("duo", parse_address("a@h2"), "raspi4", 2)]
    cells = []
    for i in range(4):
        folder = tmp_path / f"c{i}"
        folder.mkdir()
        (folder / "model.onnx").write_bytes(b"x")
        cells.append(
            (
                CellSpec(Path("m"), "raspi4", "onnx", f"p{i}"),
                folder,
                {"key": str(i), "cell": f"c{i}", "artifact": "model.onnx", "export_exit_code": 0},
            )
        )
    lock, running, peak = threading.Lock(), {"solo": 0, "duo": 0}, {"solo": 0, "duo": 0}

    def watch(name: str, text: str) -> None:
        with lock:
            running[name] += text.endswith("profiling") - (" ok in " in text)
            peak[name] = max(peak[name], running[name])

    with fanout.Fanout(devices, "raspi4", [], 60, on_device=watch) as fan, ThreadPoolExecutor(4) as pool:
        start = time.monotonic()
        results = list(pool.map(lambda c: fan.run(*c, force=False), cells))
        wall = time.monotonic() - start
    assert peak == {"solo": 1, "duo": 2}
    assert all(r["devices"][d]["status"] == "ok" for r in results for d in ("solo", "duo"))
    assert wall < 4 * 0.3 + 0.5  # solo's four jobs in a row bound the whole; duo never waited for solo
