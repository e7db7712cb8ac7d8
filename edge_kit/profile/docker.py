"""The Docker buildx backend: the same harness in a `linux/arm64` container.

Docker emulates arm64 with QEMU user mode through binfmt, exactly what the default
`qemu` backend does directly. This backend is used where a Docker engine with buildx
answers; `--builder NAME` passes through to `docker buildx --builder`, so the same
build context runs on a remote (native arm64) BuildKit node instead of local QEMU.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_kit.errors import EnvironmentSetupError, RuntimeFailure
from edge_kit.profile.backends import Backend, HarnessRun, read_harness_report
from edge_kit.targets import Target

BASE_IMAGE = "python:3.11-slim-bookworm"
GUEST_ROOT = "/opt/edgekit"


def runtime_pins() -> list[str]:
    """The aarch64 runtime wheels, pinned exactly as in the QEMU root filesystem."""
    from edge_kit.emulation.rootfs import WHEELS

    return list(WHEELS)


def dockerfile(target: Target, with_et: bool) -> str:
    lines = [
        "# syntax=docker/dockerfile:1",
        f"# edgekit profiling image for {target.name} ({target.description})",
        f"FROM --platform={target.docker_platform} {BASE_IMAGE}",
        f"RUN pip install --no-cache-dir {' '.join(runtime_pins())}",
        f"COPY harness/ {GUEST_ROOT}/harness/",
        f"COPY model/ {GUEST_ROOT}/model/",
    ]
    if with_et:
        lines += [f"COPY et/ {GUEST_ROOT}/et/", f"ENV EDGEKIT_ET_LIB={GUEST_ROOT}/et/libedgekit_et.so"]
    lines += ["ENV PYTHONHASHSEED=0 PYTHONDONTWRITEBYTECODE=1",
              f'ENTRYPOINT ["python", "{GUEST_ROOT}/harness/edgekit_harness.py"]']
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class DockerPlan:
    """A generated build context and the two commands that build and run it."""

    context: Path
    tag: str
    build: list[str]
    run: list[str]


def build_context(target: Target, model: Path, args: list[str], out_dir: Path, context: Path,
                  builder: str | None = None) -> DockerPlan:
    """Write the build context (Dockerfile, harness, model, cpuinfo) and the docker commands."""
    from edge_kit.emulation.cpuinfo import render_cpuinfo
    from edge_kit.emulation.environment import harness_path

    with_et = model.suffix == ".pte"
    (context / "harness").mkdir(parents=True)
    for source in harness_path().parent.glob("*.py"):
        shutil.copy2(source, context / "harness" / source.name)
    (context / "model").mkdir()
    shutil.copy2(model, context / "model" / model.name)
    if with_et:
        from edge_kit.emulation.etruntime import ensure_et_runtime

        shutil.copytree(ensure_et_runtime("aarch64"), context / "et")
    (context / "Dockerfile").write_text(dockerfile(target, with_et))
    (context / "cpuinfo").write_text(render_cpuinfo(target))
    digest = hashlib.sha256((context / "Dockerfile").read_bytes() + model.read_bytes()).hexdigest()[:12]
    tag = f"edgekit-profile:{target.name}-{digest}"
    build = ["docker", "buildx", *(["--builder", builder] if builder else []), "build",
             "--platform", target.docker_platform, "--load", "-t", tag, str(context)]
    run = ["docker", "run", "--rm", "--platform", target.docker_platform,
           "--cpus", str(target.resolved_cores()), "--memory", f"{target.memory_mb}m",
           "-e", f"QEMU_CPU={target.qemu_cpu}", "-e", f"EDGEKIT_TARGET={target.name}",
           "-e", "EDGEKIT_EMULATOR=docker-buildx-qemu",
           "-v", f"{context / 'cpuinfo'}:/proc/cpuinfo:ro", "-v", f"{out_dir}:/out",
           tag, "--model", f"{GUEST_ROOT}/model/{model.name}", "--out", "/out/report.json", *args]
    return DockerPlan(context, tag, build, run)


def docker_status() -> tuple[bool, str]:
    """(usable, why): the docker client, the buildx plugin and a daemon must all answer."""
    if shutil.which("docker") is None:
        return False, "no docker client on PATH"
    for cmd, what in ((["docker", "buildx", "version"], "the buildx plugin"),
                      (["docker", "info", "--format", "{{.ServerVersion}}"], "a Docker engine")):
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            return False, f"{what} does not answer"
        if proc.returncode != 0:
            return False, f"{what} does not answer"
    return True, "docker engine and buildx answer"


class DockerBackend(Backend):
    """`docker buildx build --platform linux/arm64 --load` then `docker run --platform linux/arm64`."""

    name, emulated = "docker", True

    def __init__(self, builder: str | None = None) -> None:
        self.builder = builder

    def run(self, target: Target, model: Path, args: list[str], *, count_runs: int,
            timeout_s: float, count_threads: int = 1) -> HarnessRun:
        usable, why = docker_status()
        if not usable:
            raise EnvironmentSetupError(f"the docker backend needs a Docker engine with buildx: {why}",
                                        hint="use --backend qemu (the same QEMU emulation, no engine needed)")
        with tempfile.TemporaryDirectory(prefix="edgekit-docker-") as tmp:
            out = Path(tmp) / "out"
            out.mkdir()
            plan = build_context(target, model, args, out, Path(tmp) / "context", self.builder)
            for cmd, what in ((plan.build, "docker buildx build"), (plan.run, "docker run")):
                _checked(cmd, what, timeout_s)
            return HarnessRun(read_harness_report(out / "report.json", model), None, plan.run)

    def describe(self, target: Target) -> dict[str, Any]:
        return {"name": self.name, "emulated": self.builder is None, "platform": target.docker_platform,
                "builder": self.builder, "qemu_cpu": target.qemu_cpu}


def _checked(cmd: list[str], what: str, timeout_s: float) -> None:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise RuntimeFailure(f"{what} timed out after {timeout_s:.0f} s") from None
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeFailure(f"{what} failed (exit {proc.returncode}): {last[:200]}")
