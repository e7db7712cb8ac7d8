"""Where the harness runs: QEMU user-mode (default for ARM targets), the host, Docker, or a device over SSH.

Every backend runs the same harness (`edge_kit/harness/`) and returns its JSON report.
Only QEMU can count instructions (the TCG plugin); the others measure (ssh: `edge_kit/profiler/ssh.py`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge_kit.errors import RuntimeFailure, UsageError
from edge_kit.proc import run as run_child
from edge_kit.targets import Target

HARNESS_EXIT = {
    2: "bad arguments or inputs",
    3: "the model did not load",
    4: "an inference failed",
    5: "the runtime is missing",
}


@dataclass
class HarnessRun:
    """The harness's JSON report plus instruction counts when they were taken."""

    report: dict[str, Any]
    counts: Any = None  # edge_kit.emulation.insncounts.InsnCounts
    command: list[str] = field(default_factory=list)


def harness_error(report: dict[str, Any], model: Path) -> RuntimeFailure:
    """A one-line failure from a harness report with `ok: false`."""
    error = report.get("error", {})
    return RuntimeFailure(
        f"profiling {model.name} failed: {error.get('message', 'unknown error')}",
        hint=HARNESS_EXIT.get(error.get("exit_code"), "rerun with --debug"),
    )


def read_harness_report(path: Path, model: Path, stderr: str = "") -> dict[str, Any]:
    """Load the harness JSON; a missing or failed report becomes a RuntimeFailure."""
    try:
        report = json.loads(path.read_text())
    except (OSError, ValueError):
        tail = stderr.strip().splitlines()[-1:] if stderr.strip() else ["no output"]
        raise RuntimeFailure(f"profiling {model.name} produced no report ({tail[0][:200]})") from None
    if not report.get("ok"):
        raise harness_error(report, model)
    return report


class Backend(ABC):
    """Runs the harness for one artifact on one target."""

    name: str
    emulated: bool = False
    counts_instructions: bool = False

    @abstractmethod
    def run(
        self, target: Target, model: Path, args: list[str], *, count_runs: int, timeout_s: float, count_threads: int = 1
    ) -> HarnessRun:
        """Run the harness with `args` (flags after --model/--out); count when count_runs > 0."""

    def describe(self, target: Target) -> dict[str, Any]:
        return {"name": self.name, "emulated": self.emulated}


class QemuBackend(Backend):
    """qemu-aarch64 user mode in the cached arm64 root filesystem, with the target's CPU model."""

    name, emulated, counts_instructions = "qemu", True, True

    def run(
        self, target: Target, model: Path, args: list[str], *, count_runs: int, timeout_s: float, count_threads: int = 1
    ) -> HarnessRun:
        from edge_kit.emulation.environment import guest_environment
        from edge_kit.emulation.etruntime import SHIM_NAME, ensure_et_runtime

        env = guest_environment(target)
        et_lib = ensure_et_runtime("aarch64") / SHIM_NAME if needs_et_shim(model) else None
        with tempfile.TemporaryDirectory(prefix="edgekit-profile-") as tmp:
            out = Path(tmp) / "report.json"
            full = [
                "--model",
                str(model.resolve()),
                "--out",
                str(out),
                *args,
                *(["--et-lib", str(et_lib)] if et_lib else []),
            ]
            result = env.run_harness(
                full, timeout_s=timeout_s, what=f"the emulated runtime ({model.name})", check=False
            )
            report = read_harness_report(out, model, result.stderr)
            counts = self._count(env, full, out, model, (count_runs, count_threads), timeout_s) if count_runs else None
        return HarnessRun(report, counts, env.command([env.python, "edgekit_harness.py", *full]))

    @staticmethod
    def _count(
        env: Any, full: list[str], out: Path, model: Path, runs_threads: tuple[int, int], timeout_s: float
    ) -> Any:
        """A second, shorter run under the counting plugin (so timings are not slowed by it).

        Counted on `threads` threads (default 1): with more, idle workers' spin-waits make the
        totals vary run to run by up to 2x under emulation; one thread gives the exact work.
        """
        from edge_kit.emulation.plugin import ensure_plugin, plugin_args, read_counts

        count_runs, threads = runs_threads
        counts_path = out.with_name("counts.json")
        args = count_args(full, count_runs, threads)
        result = env.run_harness(
            args,
            timeout_s=timeout_s,
            check=False,
            extra_qemu_args=plugin_args(ensure_plugin(), counts_path),
            what=f"the emulated runtime under instruction counting ({model.name})",
        )
        read_harness_report(out, model, result.stderr)
        return read_counts(counts_path)

    def describe(self, target: Target) -> dict[str, Any]:
        return {
            "name": self.name,
            "emulated": True,
            "qemu_cpu": target.qemu_cpu,
            "emulator": "qemu-aarch64 (user mode)",
            "memory_cap_mb": target.memory_mb,
        }


def needs_et_shim(model: Path) -> bool:
    """Whether the artifact's format runs through edgekit's ExecuTorch shim (known from its bytes)."""
    from edge_kit.registry import format_of_file

    fmt = format_of_file(model)
    return fmt is not None and fmt.needs_et_shim


def count_args(harness_args: list[str], count_runs: int, threads: int) -> list[str]:
    """The harness arguments of the counted run: `count_runs` marked inferences on `threads`, no op profile."""
    args = _replace_flags(
        harness_args,
        {
            "--warmup_runs": "1",
            "--num_runs": str(count_runs),
            "--count-runs": str(count_runs),
            "--max_secs": "1e9",
            "--num_threads": str(threads),
        },
    )
    return [a for a in args if a != "--profile-ops"]


def _replace_flags(args: list[str], values: dict[str, str]) -> list[str]:
    out = list(args)
    for flag, value in values.items():
        if flag in out:
            out[out.index(flag) + 1] = value
        else:
            out += [flag, value]
    return out


class HostBackend(Backend):
    """The same harness natively, for comparison (measured, not emulated)."""

    name = "host"

    def run(
        self, target: Target, model: Path, args: list[str], *, count_runs: int, timeout_s: float, count_threads: int = 1
    ) -> HarnessRun:
        from edge_kit.emulation.environment import harness_path
        from edge_kit.emulation.etruntime import SHIM_NAME, ensure_et_runtime, host_arch

        et = ["--et-lib", str(ensure_et_runtime(host_arch()) / SHIM_NAME)] if needs_et_shim(model) else []
        with tempfile.TemporaryDirectory(prefix="edgekit-profile-") as tmp:
            out = Path(tmp) / "report.json"
            cmd = [sys.executable, str(harness_path()), "--model", str(model.resolve()), "--out", str(out), *args, *et]
            proc = _run(cmd, timeout_s, model)
            return HarnessRun(read_harness_report(out, model, proc.stderr), None, cmd)


def _run(cmd: list[str], timeout_s: float, model: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONHASHSEED": "0", "EDGEKIT_EMULATOR": ""}
    try:
        return run_child(cmd, timeout=timeout_s, env=env)
    except subprocess.TimeoutExpired:
        raise RuntimeFailure(
            f"profiling {model.name} timed out after {timeout_s:.0f} s",
            hint="raise --timeout, or lower --num_runs / --max_secs",
        ) from None


BACKENDS = ("qemu", "docker", "host", "ssh")


def get_backend(
    name: str | None,
    target: Target,
    builder: str | None = None,
    *,
    device: Any = None,
    provision: bool = False,
    base_image: str | None = None,
) -> Backend:
    """The requested backend, or the default (ssh when a device is given, qemu for ARM targets, host otherwise).

    `device` is an `edge_kit.devices.Device` (the ssh backend's board)."""
    from edge_kit.profiler.docker import DockerBackend

    if name is None:
        name = "ssh" if device is not None else "qemu" if target.emulated else "host"
    if name != "docker" and (builder or base_image):
        raise UsageError(f"--builder and --base-image need the docker backend, not {name}", hint="add --backend docker")
    if name != "ssh" and (device is not None or provision):
        raise UsageError(
            f"--device and --provision need the ssh backend, not {name}", hint="drop --backend, or use --backend ssh"
        )
    if name == "qemu":
        if not target.emulated:
            raise UsageError(f"target {target.name} is not emulated", hint="use --backend host")
        return QemuBackend()
    if name == "host":
        return HostBackend()
    if name == "docker":
        if not target.emulated:
            raise UsageError(
                f"target {target.name} is not an arm64 board: the docker backend runs linux/arm64 containers",
                hint="pick an ARM target (e.g. --target raspi), or use --backend host",
            )
        return DockerBackend(builder=builder, base_image=base_image)
    if name == "ssh":
        if device is None:
            raise UsageError("the ssh backend needs a device", hint="pass --device NAME or --device user@host[:port]")
        from edge_kit.profiler.ssh import SshBackend

        return SshBackend(device, provision=provision)
    raise UsageError(f"unknown backend '{name}'", hint=f"known backends: {', '.join(BACKENDS)}")
