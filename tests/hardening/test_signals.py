"""Faults, with real signals sent to a real `python -m edge_kit` subprocess.

Each long-running command is started, watched on stderr until it reaches its long step,
then sent SIGINT or SIGTERM: it must exit 130 / 143 with one final line, and leave no
artifact, manifest, bundle, `.edgekit-tmp-*` file or half-built cache entry behind (its
TMPDIR, where converters write, must be empty too). A killed or hung emulated process
ends in a clear error within the timeout; a corrupted cache entry is found by checksum
and rebuilt.
"""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge_kit.cache import cache_root
from tests.conftest import EDGEKIT
from tests.hardening.conftest import copy_artifact, edgekit, leftovers

pytestmark = pytest.mark.timeout(600)
EMULATION = bool(shutil.which("qemu-aarch64") and shutil.which("mmdebstrap"))
needs_emulation = pytest.mark.skipif(not EMULATION, reason="needs apt packages qemu-user and mmdebstrap")
SIGNALS = [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")]
SIGNAL_IDS = ["SIGINT", "SIGTERM"]


class Running:
    """A started edgekit whose stderr lines are read in the background."""

    def __init__(self, *args: object, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [*EDGEKIT, *map(str, args)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **env},
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, needle: str, timeout: float = 180) -> None:
        """Block until a stderr line contains `needle` (the process must still be running)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=1)
            except queue.Empty:
                continue
            if line is None:
                pytest.fail(f"edgekit ended (rc {self.proc.wait()}) before '{needle}': {self.lines[-5:]}")
            self.lines.append(line)
            if needle in line:
                return
        pytest.fail(f"no '{needle}' within {timeout} s: {self.lines[-5:]}")

    def finish(self, timeout: float = 60) -> int:
        code = self.proc.wait(timeout=timeout)
        while (line := self._queue.get(timeout=10)) is not None:
            self.lines.append(line)
        return code

    def children(self) -> list[int]:
        """Pids of the direct children of the edgekit process."""
        found = []
        for task in Path(f"/proc/{self.proc.pid}/task").iterdir():
            found += [int(p) for p in (task / "children").read_text().split()]
        return found


def assert_signalled(run: Running, code: int, word: str) -> None:
    """Exit code, one final line, no traceback."""
    assert run.finish() == code, run.lines[-10:]
    assert run.lines[-1] == f"edgekit: {word}; no partial output was left behind", run.lines[-10:]
    assert not [ln for ln in run.lines if "Traceback" in ln or "error:" in ln], run.lines


@pytest.fixture
def scratch(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A private TMPDIR (must be empty afterwards) and output folder."""
    (tmp_path / "tmp").mkdir()
    (tmp_path / "out").mkdir()
    yield {"TMPDIR": str(tmp_path / "tmp")}


# What libraries keep in TMPDIR on purpose (not partial output): onnxruntime's session file,
# torch's compile cache.
LIBRARY_FILES = (".ses", "torchinductor_")


def _tmp_left(tmp_path: Path) -> list[str]:
    """What is left in the private TMPDIR besides the libraries' own files."""
    return [p.name for p in (tmp_path / "tmp").iterdir() if not p.name.startswith(LIBRARY_FILES)]


def _nothing_left(tmp_path: Path) -> None:
    assert list((tmp_path / "out").iterdir()) == []
    assert _tmp_left(tmp_path) == []


@pytest.mark.parametrize("sig, code, word", SIGNALS, ids=SIGNAL_IDS)
def test_export_interrupted_during_conversion(
    tiny: dict[str, Path], tmp_path: Path, scratch: dict[str, str], sig: signal.Signals, code: int, word: str
) -> None:
    run = Running("export", tiny["cnn.pt2"], "--format", "tflite", "-o", tmp_path / "out/m.tflite", env=scratch)
    run.wait_for("converting to tflite")
    run.proc.send_signal(sig)
    assert_signalled(run, code, word)
    _nothing_left(tmp_path)


@pytest.mark.parametrize("sig, code, word", SIGNALS, ids=SIGNAL_IDS)
def test_quantization_interrupted(
    tiny: dict[str, Path], tmp_path: Path, scratch: dict[str, str], sig: signal.Signals, code: int, word: str
) -> None:
    run = Running(
        "export",
        tiny["cnn.pt2"],
        "--format",
        "executorch",
        "--quantize",
        "int8",
        "--calibration",
        "random",
        "-o",
        tmp_path / "out/m.pte",
        env=scratch,
    )
    run.wait_for("converting to executorch (xnnpack_pt2e_int8")
    run.proc.send_signal(sig)
    assert_signalled(run, code, word)
    _nothing_left(tmp_path)


@needs_emulation
@pytest.mark.parametrize("sig, code, word", SIGNALS, ids=SIGNAL_IDS)
def test_packaging_interrupted_while_verifying(
    onnx_artifact: Path, tmp_path: Path, scratch: dict[str, str], sig: signal.Signals, code: int, word: str
) -> None:
    artifact = copy_artifact(onnx_artifact, tmp_path / "in")
    run = Running(
        "package", artifact, "--platform", "linux", "--verify-on", "raspi", "-o", tmp_path / "out/m.tar.gz", env=scratch
    )
    run.wait_for("with the wheel on raspi4 (emulated)")
    time.sleep(1.0)  # the guest python is starting
    run.proc.send_signal(sig)
    assert_signalled(run, code, word)
    _nothing_left(tmp_path)
    assert sorted(p.name for p in artifact.parent.iterdir()) == ["cnn.onnx", "cnn.onnx.json"]


@needs_emulation
@pytest.mark.parametrize("sig, code, word", SIGNALS, ids=SIGNAL_IDS)
def test_emulated_profile_interrupted(
    onnx_artifact: Path, tmp_path: Path, scratch: dict[str, str], sig: signal.Signals, code: int, word: str
) -> None:
    artifact = copy_artifact(onnx_artifact, tmp_path / "in")
    run = Running(
        "profile",
        artifact,
        "--target",
        "raspi",
        "--no-count",
        "--num-runs",
        "100000",
        "--max-secs",
        "1000000",
        "--report",
        tmp_path / "out/report",
        env=scratch,
    )
    run.wait_for("profiling cnn.onnx on raspi4")
    time.sleep(2.0)  # the guest is running
    run.proc.send_signal(sig)
    assert_signalled(run, code, word)
    _nothing_left(tmp_path)
    assert not [line for line in _processes() if str(artifact) in line]  # QEMU was stopped too


@pytest.mark.parametrize("sig, code, word", SIGNALS, ids=SIGNAL_IDS)
def test_bench_interrupted_stops_its_cells(
    tiny: dict[str, Path], tmp_path: Path, scratch: dict[str, str], sig: signal.Signals, code: int, word: str
) -> None:
    out = tmp_path / "out" / "bench"
    run = Running(
        "bench",
        tiny["cnn.pt2"],
        "--target",
        "host",
        "--formats",
        "tflite,onnx",
        "--quantize",
        "fp32,int8-dynamic",
        "--jobs",
        "2",
        "-o",
        out,
        env=scratch,
    )
    run.wait_for("exporting")
    time.sleep(1.0)  # the cells' exports are converting
    run.proc.send_signal(sig)
    assert_signalled(run, code, word)
    assert not [line for line in _processes() if str(out) in line]  # its exports were stopped
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert all(name.endswith("/export.log") for name in written), written  # no artifact, no cell record
    assert not leftovers(tmp_path) and _tmp_left(tmp_path) == []


def _cache_entries(cache: Path, kind: str) -> list[str]:
    """What a cache folder holds besides lock files."""
    folder = cache / kind
    return sorted(p.name for p in folder.iterdir() if not p.name.endswith(".lock")) if folder.is_dir() else []


@pytest.mark.parametrize("sig, code, word", SIGNALS, ids=SIGNAL_IDS)
def test_runtime_cache_build_interrupted_then_rebuilt_and_checked(
    tmp_path: Path, scratch: dict[str, str], sig: signal.Signals, code: int, word: str
) -> None:
    env = {**scratch, "EDGEKIT_CACHE_DIR": str(tmp_path / "cache")}
    run = Running("setup", "--target", "host", env=env)
    run.wait_for("Building the ExecuTorch runtime for")
    run.proc.send_signal(sig)
    assert_signalled(run, code, word)
    assert _cache_entries(tmp_path / "cache", "etruntime") == [] and not leftovers(tmp_path)
    doctor = edgekit("doctor", "--target", "host", env=env)
    assert doctor.code == 8 and "not built yet" in doctor.stdout, doctor
    assert edgekit("setup", "--target", "host", env=env).code == 0
    assert edgekit("doctor", "--target", "host", env=env).code == 0
    # A corrupted entry is found by checksum and rebuilt.
    (entry,) = [tmp_path / "cache/etruntime" / name for name in _cache_entries(tmp_path / "cache", "etruntime")]
    shim = entry / "libedgekit_et.so"
    data = bytearray(shim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shim.write_bytes(bytes(data))
    doctor = edgekit("doctor", "--target", "host", env=env)
    assert doctor.code == 8 and "does not match its checksum" in doctor.stdout, doctor
    again = edgekit("setup", "--target", "host", env=env)
    assert again.code == 0 and "does not match its checksum" in again.stderr, again
    assert edgekit("doctor", "--target", "host", env=env).code == 0
    assert _tmp_left(tmp_path) == []


@needs_emulation
def test_rootfs_build_interrupted_twice_then_rebuilt(tmp_path: Path, scratch: dict[str, str]) -> None:
    """SIGTERM while mmdebstrap runs, SIGINT while pip installs the wheels: no half-built tree either time."""
    cache = tmp_path / "cache"
    for kind in ("plugin", "etruntime"):  # reuse what is built already: only the root filesystem is cold
        if (cache_root() / kind).is_dir():
            shutil.copytree(cache_root() / kind, cache / kind, symlinks=True)
    env = {**scratch, "EDGEKIT_CACHE_DIR": str(cache)}
    for (sig, code, word), after in zip(SIGNALS[::-1], ("root filesystem: started", "(debian)")):
        run = Running("setup", "--target", "raspi", env=env)
        run.wait_for(after)
        time.sleep(0.5)
        run.proc.send_signal(sig)
        assert_signalled(run, code, word)
        assert _cache_entries(cache, "rootfs") == [], list((cache / "rootfs").iterdir())
        doctor = edgekit("doctor", "--target", "raspi", env=env)
        assert doctor.code == 8 and "not built yet" in doctor.stdout, doctor
    assert not [line for line in _processes() if str(cache) in line]  # no mmdebstrap/pip left running
    assert edgekit("setup", "--target", "raspi", env=env, timeout=600).code == 0
    assert edgekit("doctor", "--target", "raspi", env=env).code == 0
    assert _tmp_left(tmp_path) == []


def _processes() -> list[str]:
    out = []
    for proc in Path("/proc").iterdir():
        try:
            out.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except (OSError, ValueError):
            continue
    return out


@needs_emulation
def test_a_hung_emulated_run_ends_in_a_clear_error_within_the_timeout(onnx_artifact: Path, tmp_path: Path) -> None:
    start = time.monotonic()
    result = edgekit(
        "profile",
        onnx_artifact,
        "--target",
        "raspi",
        "--no-count",
        "--num-runs",
        "100000",
        "--max-secs",
        "1000000",
        "--timeout",
        "8",
        "--report",
        tmp_path / "report",
    )
    assert result.code == 9 and "timed out after 8 s" in result.stderr, result
    assert time.monotonic() - start < 8 + 30 and not (tmp_path / "report").exists()


@needs_emulation
def test_a_killed_emulated_run_is_a_clear_error(onnx_artifact: Path, tmp_path: Path) -> None:
    run = Running(
        "profile",
        onnx_artifact,
        "--target",
        "raspi",
        "--no-count",
        "--num-runs",
        "100000",
        "--max-secs",
        "1000000",
        "--timeout",
        "300",
        "--report",
        tmp_path / "report",
        env={},
    )
    run.wait_for("profiling cnn.onnx on raspi4")
    deadline = time.monotonic() + 60
    while (
        not (qemu := [p for p in run.children() if "qemu" in Path(f"/proc/{p}/cmdline").read_text(errors="replace")])
        and time.monotonic() < deadline
    ):
        time.sleep(0.2)
    assert qemu, "no qemu child appeared"
    time.sleep(2.0)
    os.kill(qemu[0], signal.SIGKILL)
    assert run.finish() == 9, run.lines[-5:]
    errors = [line for line in run.lines if line.startswith("edgekit: error:")]
    assert len(errors) == 1 and "crashed with SIGKILL" in errors[0], run.lines[-5:]
    assert not (tmp_path / "report").exists()
