"""The docker backend: the same harness in a `linux/arm64` container built with `docker buildx`.

Locally: the profiling image (`edge_kit.docker.image`: edgekit's arm64 root filesystem, or
`--base-image`) runs as one `docker run --network none --platform linux/arm64` whose driver
(`edge_kit/docker/driver.py`) times the model under binfmt's `qemu-aarch64-static` with the
target's CPU model (`QEMU_CPU`), memory cap (`QEMU_RESERVED_VA`) and CPU files (the target's
`/proc/cpuinfo` and `/sys/devices/system/cpu`, mounted at `QEMU_LD_PREFIX`), then counts
instructions with the dynamic QEMU and edgekit's plugin inside the same container: the same
emulation, files and counts as the qemu backend.

`--builder NAME` runs the driver inside the build, on that buildx builder (e.g. a native arm64
node): a `profile` stage runs it and only `/out` is exported (`--output type=local`).

Faults: no engine, buildx, binfmt or base-image runtime before the run: exit 8; the engine
or builder stops answering during it: exit 12; a build that fails, a container that is
killed, crashes or outlives its timeout: exit 9. The container is `--rm`, named, and removed
on every error path (`docker rm -f`); its driver's own step timeouts end it even when the
engine is unreachable, and the engine then removes it.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge_kit.docker import engine
from edge_kit.docker.counting import GUEST_QEMU, GUEST_VIEW, counting_argv, loader_name
from edge_kit.docker.image import GUEST, PLATFORM, ProfileImage, ensure_image, host_user, require_runtime
from edge_kit.errors import RuntimeFailure
from edge_kit.profiler.backends import Backend, HarnessRun, count_args, needs_et_shim, read_harness_report
from edge_kit.targets import Target

RUN_LABEL = "org.edgekit.run"
START_MARGIN_S = 600.0  # container creation (a full copy of the image under vfs) on top of the steps' timeouts


@dataclass
class Job:
    """One profile in a container: guest paths, the driver's plan, the host folders mounted."""

    target: Target
    model: Path
    args: list[str]
    count_runs: int
    count_threads: int
    timeout_s: float
    inputs: Path | None = None
    mounts: list[str] = field(default_factory=list)

    @property
    def guest_model(self) -> str:
        return f"{GUEST}/model/{self.model.name}"

    def harness(self, out: str) -> list[str]:
        """The harness command in the container (paths rewritten to the container's)."""
        args = list(self.args)
        if "--input" in args:
            self.inputs = Path(args[args.index("--input") + 1])
            args[args.index("--input") + 1] = f"{GUEST}/input/{self.inputs.name}"
        et = ["--et-lib", f"{GUEST}/et/libedgekit_et.so"] if needs_et_shim(self.model) else []
        harness = ["{python}", f"{GUEST}/harness/edgekit_harness.py"]  # the driver substitutes its python
        return [*harness, "--model", self.guest_model, "--out", out, *args, *et]

    def plan(self, loader_check: bool = False) -> dict[str, Any]:
        """The driver's steps: (a host check,) the timed run, and the counted run."""
        timing = self.harness("/out/report.json")
        steps = [{"name": "timing", "argv": timing, "timeout_s": self.timeout_s}]
        if loader_check:  # can this node run host-architecture programs? (no: a native arm64 builder)
            loader = f"{GUEST_QEMU}/lib/{loader_name()}"
            steps.insert(0, {"name": "host", "argv": [loader, "--version"], "timeout_s": 60, "optional": True})
        if self.count_runs:
            counted = count_args(self.harness("/out/count-report.json"), self.count_runs, self.count_threads)
            steps.append(
                {
                    "name": "count",
                    "argv": counting_argv(self.target, counted, "/out/counts.json"),
                    "timeout_s": self.timeout_s,
                }
            )
        return {"out": "/out", "steps": steps}

    def environment(self) -> dict[str, str]:
        env = {
            "QEMU_CPU": self.target.qemu_cpu,
            "EDGEKIT_TARGET": self.target.name,
            "EDGEKIT_EMULATOR": "docker-binfmt-qemu",
        }
        if self.target.memory_mb:
            env["QEMU_RESERVED_VA"] = str(int(self.target.memory_mb) << 20)
        return env


def write_view(target: Target, folder: Path) -> Path:
    """The target's CPU files (`proc/cpuinfo`, `sys/devices/system/cpu/...`): the qemu backend's view files."""
    from edge_kit.emulation.cpuinfo import guest_files

    for rel, text in guest_files(target).items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder


def read_steps(out: Path, model: Path, job: Job) -> tuple[dict[str, Any], Any, str | None]:
    """(harness report, instruction counts or None, why not counted) from the driver's results in `out`."""
    try:
        steps = {s["name"]: s for s in json.loads((out / "steps.json").read_text())["steps"]}
    except (OSError, ValueError, KeyError, TypeError):
        raise RuntimeFailure(f"profiling {model.name} in the container produced no result") from None
    timing = steps.get("timing") or {"returncode": None}
    _check_step(timing, out, f"the emulated runtime in the container ({model.name})", job.timeout_s)
    report = read_harness_report(out / "report.json", model, _log(out, "timing"))
    if not job.count_runs:
        return report, None, None
    count = steps.get("count")
    if count is None or count.get("error"):
        why = (count or {}).get("error") or "the counting step did not run"
        return report, None, f"instructions not counted: {why}"
    _check_step(count, out, f"the counting QEMU in the container ({model.name})", job.timeout_s)
    read_harness_report(out / "count-report.json", model, _log(out, "count"))
    from edge_kit.emulation.plugin import read_counts

    return report, read_counts(out / "counts.json"), None


def _log(out: Path, name: str) -> str:
    path = out / f"{name}.log"
    return path.read_text(errors="replace") if path.exists() else ""


def _check_step(step: dict[str, Any], out: Path, what: str, timeout_s: float) -> None:
    """A step that timed out or was killed by a signal is a RuntimeFailure naming the stage it was in."""
    from edge_kit.emulation.qemu import last_stage

    stage = last_stage(_log(out, step.get("name", "timing")))
    where = f" while {stage}" if stage else ""
    if step.get("timed_out"):
        raise RuntimeFailure(
            f"{what} timed out after {timeout_s:g} s{where}", hint="raise --timeout, or lower --num_runs / --max_secs"
        )
    code = step.get("returncode")
    if isinstance(code, int) and code < 0:
        raise RuntimeFailure(f"{what} crashed with signal {-code}{where}")


class DockerBackend(Backend):
    """`docker buildx build --platform linux/arm64` of the profiling image, then one `docker run`;
    with a builder, one `docker buildx --builder NAME build` that profiles on that node."""

    name, emulated, counts_instructions = "docker", True, True

    def __init__(self, builder: str | None = None, base_image: str | None = None) -> None:
        self.builder = builder
        self.base_image = base_image
        self.image: ProfileImage | None = None
        self.counts_note: str | None = None

    def run(
        self, target: Target, model: Path, args: list[str], *, count_runs: int, timeout_s: float, count_threads: int = 1
    ) -> HarnessRun:
        from edge_kit.docker.setup import require_docker

        require_docker(self.builder)
        if self.builder:
            from edge_kit.profiler.docker_builder import run_on_builder

            return run_on_builder(self, target, model, args, count_runs, count_threads, timeout_s)
        self.image = ensure_image(self.base_image)
        require_runtime(self.image, _harness_runtime(model))
        job = Job(target, model.resolve(), args, count_runs, count_threads, timeout_s)
        with tempfile.TemporaryDirectory(prefix="edgekit-docker-") as tmp:
            out = Path(tmp) / "out"
            out.mkdir()
            cmd = self.run_command(job, write_view(target, Path(tmp) / "view"), out)
            self._run_container(cmd, job)
            report, counts, self.counts_note = read_steps(out, model, job)
        return HarnessRun(report, counts, ["docker", *cmd])

    def run_command(self, job: Job, view: Path, out: Path) -> list[str]:
        """`docker run ...` (without the client's path) for `job`."""
        assert self.image is not None
        plan = job.plan()
        mounts = [f"{view}:{GUEST_VIEW}:ro", f"{job.model}:{job.guest_model}:ro", f"{out}:/out"]
        if job.inputs is not None:
            mounts.append(f"{job.inputs.resolve()}:{GUEST}/input/{job.inputs.name}:ro")
        run_id = uuid.uuid4().hex[:12]
        cmd = ["run", "--rm", "--name", f"edgekit-{run_id}", "--label", f"{RUN_LABEL}={run_id}"]
        cmd += ["--network", "none", "--platform", PLATFORM, *host_user()]
        cmd += ["--cpus", str(min(job.target.resolved_cores(), os.cpu_count() or 1))]
        if job.target.memory_mb:
            cmd += ["--memory", f"{job.target.memory_mb}m"]
        for key, value in job.environment().items():
            cmd += ["-e", f"{key}={value}"]
        for mount in mounts:
            cmd += ["-v", mount]
        return [*cmd, self.image.tag, json.dumps(plan)]

    def _run_container(self, cmd: list[str], job: Job) -> None:
        name = cmd[cmd.index("--name") + 1]
        budget = job.timeout_s * len(job.plan()["steps"]) + START_MARGIN_S
        try:
            proc = engine.docker(cmd, timeout=budget)
        except subprocess.TimeoutExpired:
            raise RuntimeFailure(
                f"the profiling container ran past {budget:.0f} s and was removed", hint="raise --timeout"
            ) from None
        finally:
            engine.remove_container(name)  # after --rm this finds nothing; after a timeout or Ctrl-C it kills it
        if proc.returncode != 0 and engine.engine_gone():
            raise engine.failure("the profiling run", proc)  # the engine went away (it also kills its containers)
        if proc.returncode in (137, 143):
            mem = f" or it ran out of its {job.target.memory_mb} MB" if job.target.memory_mb else ""
            raise RuntimeFailure(
                f"the profiling container was killed (docker exit {proc.returncode}: stopped from outside{mem})"
            )
        if proc.returncode != 0:
            raise engine.failure("the profiling run", proc)

    def describe(self, target: Target) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "emulated": self.emulated,
            "platform": target.docker_platform,
            "builder": self.builder,
            "qemu_cpu": target.qemu_cpu if self.emulated else None,
            "emulator": "qemu-aarch64-static through binfmt_misc in a linux/arm64 container"
            if self.emulated
            else "none: native arm64 builder",
            "memory_cap_mb": target.memory_mb if self.emulated else None,
            "where": f"in the build on buildx builder {self.builder}" if self.builder else "local docker run",
            "base_image": self.base_image,
        }
        if self.image is not None:
            out.update(
                image=self.image.tag, image_build_s=_round(self.image.build_s), image_cached=self.image.build_s is None
            )
        out["instructions_note"] = self.counts_note
        return out


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


__all__ = ["DockerBackend", "Job", "read_steps", "write_view"]


def _harness_runtime(model: Path) -> str:
    """The harness adapter the artifact needs, from its bytes (never its name)."""
    from edge_kit.registry import format_of_file

    fmt = format_of_file(model)
    return (fmt.harness_runtime or "") if fmt is not None else ""
