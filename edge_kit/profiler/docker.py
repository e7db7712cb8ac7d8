"""The Docker buildx backend: the same harness in a `linux/arm64` container.

Docker emulates arm64 with QEMU user mode through binfmt, exactly what the default
`qemu` backend does directly. This backend is used where a Docker engine with buildx
answers. `--builder NAME` passes through to `docker buildx --builder`, and then the
harness runs *inside the build*, on that BuildKit node (a native arm64 machine instead of
local QEMU): a `profile` stage runs it and only its report is exported
(`--output type=local`); no local engine is needed. Without a builder the image is loaded
into the local engine and run there with the target's CPU count, memory and cpuinfo.
"""

from __future__ import annotations

import hashlib
import shlex
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_kit.errors import EnvironmentSetupError, RuntimeFailure
from edge_kit.profiler.backends import Backend, HarnessRun, needs_et_shim, read_harness_report
from edge_kit.targets import Target

BASE_IMAGE = "python:3.11-slim-bookworm"
GUEST_ROOT = "/opt/edgekit"


def runtime_pins() -> list[str]:
    """The aarch64 runtime wheels, pinned exactly as in the QEMU root filesystem."""
    from edge_kit.emulation.rootfs import WHEELS

    return [f"{name}=={version}" for name, version in WHEELS.items()]


def dockerfile(target: Target, with_et: bool, build_run: list[str] | None = None) -> str:
    """The profiling image; with `build_run` (harness arguments) also a stage that runs the harness
    during the build, on the builder's node, and a `report` stage holding only its output."""
    lines = [
        "# syntax=docker/dockerfile:1",
        f"# edgekit profiling image for {target.name} ({target.description})",
        f"FROM --platform={target.docker_platform} {BASE_IMAGE} AS runtime",
        f"RUN pip install --no-cache-dir {' '.join(runtime_pins())}",
        f"COPY harness/ {GUEST_ROOT}/harness/",
        f"COPY model/ {GUEST_ROOT}/model/",
        f"COPY input/ {GUEST_ROOT}/input/",
    ]
    if with_et:
        lines += [f"COPY et/ {GUEST_ROOT}/et/", f"ENV EDGEKIT_ET_LIB={GUEST_ROOT}/et/libedgekit_et.so"]
    lines += [
        "ENV PYTHONHASHSEED=0 PYTHONDONTWRITEBYTECODE=1",
        f'ENTRYPOINT ["python", "{GUEST_ROOT}/harness/edgekit_harness.py"]',
    ]
    if build_run is not None:
        harness = shlex.join(["python", f"{GUEST_ROOT}/harness/edgekit_harness.py", *build_run])
        lines += [
            "",
            "# --builder: profile during the build, on the builder node; export only the report",
            "FROM runtime AS profile",
            "ARG EDGEKIT_RUN_ID",
            f'RUN echo "run $EDGEKIT_RUN_ID" && mkdir -p /out && {{ {harness} > /out/harness.log 2>&1; '
            "echo $? > /out/exit_code; }",
            "",
            "FROM scratch AS report",
            "COPY --from=profile /out/ /",
        ]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class DockerPlan:
    """A generated build context and the two commands that build and run it."""

    context: Path
    tag: str
    build: list[str]
    run: list[str] | None  # None with a builder: the build itself runs the harness


def build_context(
    target: Target, model: Path, args: list[str], out_dir: Path, context: Path, builder: str | None = None
) -> DockerPlan:
    """Write the build context (Dockerfile, harness, model, inputs, cpuinfo) and the docker commands."""
    from edge_kit.emulation.cpuinfo import render_cpuinfo
    from edge_kit.emulation.environment import harness_path

    with_et = needs_et_shim(model)
    (context / "harness").mkdir(parents=True)
    for source in harness_path().parent.glob("*.py"):
        shutil.copy2(source, context / "harness" / source.name)
    (context / "model").mkdir()
    shutil.copy2(model, context / "model" / model.name)
    (context / "input").mkdir()
    args = list(args)
    if "--input" in args:  # a host path: copied into the image
        source = Path(args[args.index("--input") + 1])
        shutil.copy2(source, context / "input" / source.name)
        args[args.index("--input") + 1] = f"{GUEST_ROOT}/input/{source.name}"
    if with_et:
        from edge_kit.emulation.etruntime import ensure_et_runtime

        shutil.copytree(ensure_et_runtime("aarch64"), context / "et")
    harness = ["--model", f"{GUEST_ROOT}/model/{model.name}", "--out", "/out/report.json", *args]
    (context / "Dockerfile").write_text(dockerfile(target, with_et, harness if builder else None))
    (context / "cpuinfo").write_text(render_cpuinfo(target))
    digest = hashlib.sha256((context / "Dockerfile").read_bytes() + model.read_bytes()).hexdigest()[:12]
    tag = f"edgekit-profile:{target.name}-{digest}"
    if builder:  # everything happens on the builder node; only the report comes back
        build = [
            "docker",
            "buildx",
            "--builder",
            builder,
            "build",
            "--platform",
            target.docker_platform,
            "--target",
            "report",
            "--build-arg",
            f"EDGEKIT_RUN_ID={uuid.uuid4().hex}",
            "--output",
            f"type=local,dest={out_dir}",
            str(context),
        ]
        return DockerPlan(context, tag, build, None)
    build = [
        "docker",
        "buildx",
        "build",
        "--platform",
        target.docker_platform,
        "--target",
        "runtime",
        "--load",
        "-t",
        tag,
        str(context),
    ]
    run = [
        "docker",
        "run",
        "--rm",
        "--platform",
        target.docker_platform,
        "--cpus",
        str(target.resolved_cores()),
        "--memory",
        f"{target.memory_mb}m",
        "-e",
        f"QEMU_CPU={target.qemu_cpu}",
        "-e",
        f"EDGEKIT_TARGET={target.name}",
        "-e",
        "EDGEKIT_EMULATOR=docker-buildx-qemu",
        "-v",
        f"{context / 'cpuinfo'}:/proc/cpuinfo:ro",
        "-v",
        f"{out_dir}:/out",
        tag,
        *harness,
    ]
    return DockerPlan(context, tag, build, run)


def docker_status(builder: str | None = None) -> tuple[bool, str]:
    """(usable, why): the docker client, the buildx plugin and a local engine (or the named builder)."""
    if shutil.which("docker") is None:
        return False, "no docker client on PATH"
    where = (
        (["docker", "buildx", "inspect", builder], f"the buildx builder '{builder}'")
        if builder
        else (["docker", "info", "--format", "{{.ServerVersion}}"], "a Docker engine")
    )
    for cmd, what in ((["docker", "buildx", "version"], "the buildx plugin"), where):
        try:
            proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            return False, f"{what} does not answer"
        if proc.returncode != 0:
            return False, f"{what} does not answer"
    return True, "docker engine and buildx answer"


class DockerBackend(Backend):
    """`docker buildx build --platform linux/arm64 --load` then `docker run --platform linux/arm64`;
    with a builder, one `docker buildx --builder NAME build` that runs the harness on that node."""

    name, emulated = "docker", True

    def __init__(self, builder: str | None = None) -> None:
        self.builder = builder
        self.emulated = builder is None  # a named builder is expected to be a native arm64 node (checked after)

    def run(
        self, target: Target, model: Path, args: list[str], *, count_runs: int, timeout_s: float, count_threads: int = 1
    ) -> HarnessRun:
        usable, why = docker_status(self.builder)
        if not usable:
            need = (
                f"the buildx plugin and the builder {self.builder}" if self.builder else "a Docker engine with buildx"
            )
            raise EnvironmentSetupError(
                f"the docker backend needs {need}: {why}",
                hint="use --backend qemu (the same QEMU emulation, no engine needed)",
            )
        with tempfile.TemporaryDirectory(prefix="edgekit-docker-") as tmp:
            out = Path(tmp) / "out"
            out.mkdir()
            plan = build_context(target, model, args, out, Path(tmp) / "context", self.builder)
            _checked(
                plan.build, f"docker buildx build{f' on builder {self.builder}' if self.builder else ''}", timeout_s
            )
            if plan.run is not None:
                _checked(plan.run, "docker run", timeout_s)
            stderr = (out / "harness.log").read_text(errors="replace") if (out / "harness.log").exists() else ""
            report = read_harness_report(out / "report.json", model, stderr)
        if self.builder:  # under binfmt QEMU the harness reads the node's x86 cpuinfo: no ARM part numbers
            self.emulated = not report.get("machine", {}).get("cpu", {}).get("parts")
        return HarnessRun(report, None, plan.run or plan.build)

    def describe(self, target: Target) -> dict[str, Any]:
        return {
            "name": self.name,
            "emulated": self.emulated,
            "platform": target.docker_platform,
            "builder": self.builder,
            "qemu_cpu": target.qemu_cpu if self.emulated else None,
            "where": f"in the build on buildx builder {self.builder}" if self.builder else "local docker run",
        }


def _checked(cmd: list[str], what: str, timeout_s: float) -> None:
    try:
        proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise RuntimeFailure(f"{what} timed out after {timeout_s:.0f} s") from None
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeFailure(f"{what} failed (exit {proc.returncode}): {last[:200]}")
