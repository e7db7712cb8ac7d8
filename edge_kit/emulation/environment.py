"""One call that gives profiling code an emulated target, and `doctor()` checks for it.

    env = guest_environment("raspi5")
    result = env.run_harness(["--model", "/abs/model.onnx", "--out", "/abs/r.json"],
                             timeout_s=300, extra_qemu_args=plugin_args)

What the guest sees: `uname -m` = aarch64; `/proc/cpuinfo` and `/sys/devices/system/cpu`
of the target (so `os.cpu_count()` and pytorch/cpuinfo report the target's cores);
AT_HWCAP from QEMU's `-cpu` model; but `sched_getaffinity` passes the HOST's CPU
mask through (on a 2-core host a 4-core target's affinity shows 2 CPUs), so the
harness always gets `--num_threads` explicitly.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from edge_kit.cache import cache_root
from edge_kit.emulation import aptsources, qemu
from edge_kit.emulation.cpuinfo import clusters
from edge_kit.emulation.rootfs import (
    DEBIAN_ARCH,
    DEBIAN_RELEASE,
    GUEST_PYTHON,
    MIN_FREE_BYTES,
    ensure_rootfs,
    rootfs_status,
)
from edge_kit.emulation.view import ensure_view
from edge_kit.errors import EdgeKitError, EnvironmentSetupError, UsageError
from edge_kit.targets import Target, get_target

HARNESS = "edgekit_harness.py"


def harness_path() -> Path:
    """Host path of the profiling harness (the guest opens host paths directly)."""
    return Path(str(resources.files("edge_kit.harness") / HARNESS))


@dataclass(frozen=True)
class GuestEnvironment:
    """Everything needed to run a program in an emulated target."""

    target: Target
    rootfs: Path
    view: Path
    python: str = GUEST_PYTHON
    env: dict[str, str] = field(default_factory=dict)

    @property
    def cpu(self) -> str:
        return self.target.qemu_cpu

    @property
    def memory_mb(self) -> int | None:
        return self.target.memory_mb or None

    def command(self, argv: Sequence[str], extra_qemu_args: Sequence[str] = ()) -> list[str]:
        """The host command line (for logs or for running it yourself)."""
        return qemu.qemu_command(
            self.view, argv, cpu=self.cpu, memory_mb=self.memory_mb, extra_qemu_args=extra_qemu_args
        )

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout_s: float,
        extra_qemu_args: Sequence[str] = (),
        extra_env: Mapping[str, str] | None = None,
        what: str = "the emulated program",
        check: bool = True,
    ) -> qemu.GuestResult:
        """Run guest `argv` (argv[0] a guest path such as `/usr/bin/python3.11`)."""
        return qemu.run_guest(
            argv,
            view=self.view,
            cpu=self.cpu,
            timeout_s=timeout_s,
            env={**self.env, **(extra_env or {})},
            memory_mb=self.memory_mb,
            extra_qemu_args=extra_qemu_args,
            what=what,
            check=check,
        )

    def run_python(
        self,
        args: Sequence[str],
        *,
        timeout_s: float,
        extra_qemu_args: Sequence[str] = (),
        extra_env: Mapping[str, str] | None = None,
        what: str = "the emulated program",
        check: bool = True,
    ) -> qemu.GuestResult:
        """Run the guest's python3.11 with `args`."""
        return self.run(
            [self.python, *args],
            timeout_s=timeout_s,
            extra_qemu_args=extra_qemu_args,
            extra_env=extra_env,
            what=what,
            check=check,
        )

    def run_harness(
        self,
        harness_args: Sequence[str],
        *,
        timeout_s: float,
        extra_qemu_args: Sequence[str] = (),
        extra_env: Mapping[str, str] | None = None,
        what: str = "the emulated runtime",
        check: bool = True,
    ) -> qemu.GuestResult:
        """Run the profiling harness in the guest (it writes its report to `--out`)."""
        return self.run_python(
            [str(harness_path()), *harness_args],
            timeout_s=timeout_s,
            extra_qemu_args=extra_qemu_args,
            extra_env=extra_env,
            what=what,
            check=check,
        )


def guest_environment(target: Target | str, *, build: bool = True) -> GuestEnvironment:
    """The emulated environment of `target`: rootfs (built on demand unless `build` is
    False: then a missing or damaged one raises EnvironmentSetupError), view, env."""
    target = get_target(target) if isinstance(target, str) else target
    if not target.emulated:
        raise UsageError(f"target '{target.name}' runs natively, not under emulation")
    clusters(target)
    qemu.qemu_binary()
    if build:
        root = ensure_rootfs()
    else:
        status = rootfs_status()
        if not status.valid:
            raise EnvironmentSetupError(
                f"the arm64 root filesystem is {status.problems[0]}", hint=f"edgekit setup --target {target.name}"
            )
        root = status.path
    env = {
        "PYTHONPATH": str(harness_path().parent),
        "EDGEKIT_EMULATOR": "qemu-user",
        "EDGEKIT_TARGET": target.name,
        "OPENBLAS_NUM_THREADS": "1",
    }  # numpy's own BLAS threads would only idle and spin
    return GuestEnvironment(target=target, rootfs=root, view=ensure_view(target, root), env=env)


@dataclass(frozen=True)
class Check:
    """One `edgekit doctor` line: what, whether it is fine, details, the command that fixes it."""

    name: str
    ok: bool
    detail: str
    fix: str | None = None
    required: bool = True


def _tool(name: str, package: str, why: str) -> Check:
    path = shutil.which(name)
    return Check(name, path is not None, path or f"not found ({why})", None if path else f"apt-get install {package}")


def _apt_check() -> Check:
    try:
        text = aptsources.debian_sources(DEBIAN_RELEASE, DEBIAN_ARCH)
    except EdgeKitError as exc:
        return Check(
            "apt sources",
            False,
            exc.message,
            "add a Debian source under /etc/apt/sources.list.d/ or set EDGEKIT_APT_SOURCES",
        )
    uris = sorted({ln.split(":", 1)[1].strip() for ln in text.splitlines() if ln.startswith("URIs:")})
    return Check("apt sources", True, f"{len(uris)} Debian archive(s) for {DEBIAN_RELEASE}")


def _rootfs_check(target: str) -> Check:
    status = rootfs_status()
    if status.valid:
        return Check("arm64 rootfs", True, f"{status.path} ({status.size_bytes >> 20} MB, intact)")
    detail = "not built yet" if not status.built else f"damaged: {status.problems[0]}"
    return Check("arm64 rootfs", False, detail, f"edgekit setup --target {target}")


def _disk_check() -> Check:
    free = shutil.disk_usage(cache_root()).free
    return Check(
        "disk space",
        free >= MIN_FREE_BYTES,
        f"{free >> 20} MB free under {cache_root()}",
        None if free >= MIN_FREE_BYTES else "free 1 GB or set EDGEKIT_CACHE_DIR",
    )


def _docker_checks() -> list[Check]:
    docker = shutil.which("docker")
    if docker is None:
        return [Check("docker", False, "not installed (optional backend)", "apt-get install docker.io", required=False)]
    checks = []
    for name, args, fix in (
        (
            "docker engine",
            ["info", "--format", "{{.ServerVersion}}"],
            "start the Docker daemon (systemctl start docker)",
        ),
        ("docker buildx", ["buildx", "version"], "apt-get install docker-buildx"),
    ):
        try:
            proc = subprocess.run([docker, *args], check=False, capture_output=True, text=True, timeout=10)
            ok, out = proc.returncode == 0, (proc.stdout.strip() or proc.stderr.strip()).splitlines()
        except (OSError, subprocess.TimeoutExpired) as exc:
            ok, out = False, [str(exc)]
        checks.append(Check(name, ok, (out[0] if out else "")[:120], None if ok else fix, required=False))
    return checks


def doctor(target: str = "raspi") -> list[Check]:
    """Checks of everything emulated profiling needs, each with the command that fixes it."""
    pip_ok = (
        subprocess.run(
            [sys.executable, "-m", "pip", "--version"], check=False, capture_output=True, timeout=60
        ).returncode
        == 0
    )
    return [
        _tool(qemu.QEMU, "qemu-user", "runs arm64 programs"),
        _tool("mmdebstrap", "mmdebstrap", "builds the arm64 root filesystem"),
        Check("pip", pip_ok, f"{sys.executable} -m pip", None if pip_ok else f"{sys.executable} -m ensurepip"),
        _apt_check(),
        _disk_check(),
        _rootfs_check(target),
        *_docker_checks(),
    ]
