"""Run one program inside an emulated aarch64 guest (QEMU user mode), safely.

We use the dynamic `qemu-aarch64` (Debian package qemu-user): unlike
`qemu-aarch64-static` it accepts `-plugin` (instruction counting).

- Memory cap: `-R <target RAM>` reserves the guest's whole virtual address space
  up front, so the guest cannot map more than the target's RAM; a larger allocation
  fails inside the guest with ENOMEM (numpy: MemoryError, C++: std::bad_alloc), a
  clean, reported failure. Verified with QEMU 7.2: RLIMIT_DATA makes QEMU hang when
  the guest's allocation is refused, and RLIMIT_AS also counts QEMU's own mappings
  (translated-code buffer, -R reservation). The cap is on address space, which is
  stricter than resident memory (thread stacks and malloc arenas reserve more than
  they touch), but no target here runs with less than 2 GB.
- A timeout kills the whole process group (QEMU and anything the guest forked).
- RLIMIT_CORE is 0, so a crashing guest leaves no `qemu_*.core` file in the cwd.
- The environment is built from scratch (the host's PYTHONPATH, LD_LIBRARY_PATH or
  QEMU_* variables must not leak into QEMU or the guest).
- A guest may print `edgekit-stage: <what it is doing>` lines on stderr; a crash or
  timeout message then says what it was doing ("... while loading model.onnx").
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from edge_kit.errors import EnvironmentSetupError, RuntimeFailure

QEMU = "qemu-aarch64"
STAGE_PREFIX = "edgekit-stage: "
# Signs of a refused allocation in the guest's stderr (matched lower-cased).
OOM_SIGNS = (
    "memoryerror",
    "unable to allocate",
    "bad_alloc",
    "cannot allocate memory",
    "out of memory",
    "failed to allocate",
    "memory allocation",
    "failed to map segment",
)
BASE_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "HOME": "/tmp",
    "PYTHONHASHSEED": "0",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONNOUSERSITE": "1",
    "PYTHONUNBUFFERED": "1",
}


@dataclass(frozen=True)
class GuestResult:
    """A finished guest program: exit status, captured output, wall time."""

    returncode: int
    stdout: str
    stderr: str
    wall_s: float

    def stage(self) -> str | None:
        """The last `edgekit-stage:` line the guest printed (what it was doing)."""
        return last_stage(self.stderr)


def qemu_binary() -> str:
    """Path of the dynamic qemu-aarch64 (raises with the install command when missing)."""
    found = shutil.which(QEMU)
    if found is None:
        raise EnvironmentSetupError(
            "qemu-aarch64 is not installed (needed to emulate arm64 targets)", hint="apt-get install qemu-user"
        )
    return found


def qemu_command(
    view: Path, argv: Sequence[str], *, cpu: str, memory_mb: int | None = None, extra_qemu_args: Sequence[str] = ()
) -> list[str]:
    """The host command line that runs guest `argv` (argv[0] an absolute guest path)."""
    if not argv or not argv[0].startswith("/"):
        raise ValueError("argv[0] must be the guest's absolute path of the program")
    cmd = [qemu_binary(), "-L", str(view), "-cpu", cpu, "-0", argv[0]]
    if memory_mb:
        cmd += ["-R", str(int(memory_mb) << 20)]
    cmd += list(extra_qemu_args)
    return cmd + [str(view) + argv[0], *argv[1:]]


def last_stage(stderr: str) -> str | None:
    stages = [ln[len(STAGE_PREFIX) :].strip() for ln in stderr.splitlines() if ln.startswith(STAGE_PREFIX)]
    return stages[-1] if stages else None


def _limits() -> None:  # runs in the child between fork and exec
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _last_line(text: str) -> str:
    lines = [
        ln.strip()
        for ln in text.splitlines()
        if ln.strip() and not ln.startswith((STAGE_PREFIX, "qemu: uncaught target signal"))
    ]
    return lines[-1][:300] if lines else ""


def _failure(result: GuestResult, what: str, memory_mb: int | None) -> RuntimeFailure:
    """One-line error for a guest that crashed or exited non-zero."""
    stage = result.stage()
    where = f" while {stage}" if stage else ""
    rc = result.returncode
    if rc < 0:
        try:
            name = signal.Signals(-rc).name
        except ValueError:
            name = f"signal {-rc}"
        return RuntimeFailure(
            f"{what} crashed with {name}{where}",
            returncode=rc,
            hint="the runtime may not support this model on this CPU; try another runtime or precision",
            stderr=result.stderr[-4000:],
        )
    if memory_mb and any(sign in result.stderr.lower() for sign in OOM_SIGNS):
        return RuntimeFailure(
            f"{what} ran out of memory{where} (the target has {memory_mb} MB)",
            returncode=rc,
            hint="use a smaller model, batch or precision",
            stderr=result.stderr[-4000:],
        )
    detail = _last_line(result.stderr) or _last_line(result.stdout)
    return RuntimeFailure(
        f"{what} failed with exit code {rc}{where}" + (f": {detail}" if detail else ""),
        returncode=rc,
        stderr=result.stderr[-4000:],
    )


def run_guest(
    argv: Sequence[str],
    *,
    view: Path,
    cpu: str,
    timeout_s: float,
    env: Mapping[str, str] | None = None,
    memory_mb: int | None = None,
    extra_qemu_args: Sequence[str] = (),
    what: str = "the emulated program",
    cwd: Path | None = None,
    check: bool = True,
) -> GuestResult:
    """Run guest `argv` under QEMU; a crash, a non-zero exit (with `check`) or a timeout
    raises RuntimeFailure with a one-line message. Never hangs past `timeout_s`."""
    cmd = qemu_command(view, argv, cpu=cpu, memory_mb=memory_mb, extra_qemu_args=extra_qemu_args)
    full_env = {**BASE_ENV, **(env or {})}
    start = time.monotonic()
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=full_env,
        cwd=cwd,
        text=True,
        errors="replace",
        start_new_session=True,
        preexec_fn=_limits,
    )
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        out, err = proc.communicate()
        stage = last_stage(err)
        raise RuntimeFailure(
            f"{what} timed out after {timeout_s:g} s" + (f" while {stage}" if stage else ""),
            hint="raise the timeout, or use fewer runs or a smaller model",
            returncode=None,
            stderr=err[-4000:],
        ) from None
    except BaseException:
        _kill_group(proc)
        proc.communicate()
        raise
    result = GuestResult(proc.returncode, out, err, time.monotonic() - start)
    if result.returncode < 0 or (check and result.returncode != 0):
        raise _failure(result, what, memory_mb)
    return result


def _kill_group(proc: subprocess.Popen[str]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
