"""`--backend docker --builder NAME`: the profile runs inside a build on that buildx builder.

The build context holds the profiling image's own Dockerfile stage (`runtime`: the same
`edgekit.tar`) plus a `profile` stage that copies in the model, the inputs and the target's
CPU files and runs the driver, and a `report` stage holding only its `/out`:

    docker buildx --builder NAME build --platform linux/arm64 --network none --target report \
        --build-arg EDGEKIT_RUN_ID=<fresh> --output type=local,dest=OUT CONTEXT

A fresh `EDGEKIT_RUN_ID` makes every profile really run (the RUN step is never a cache hit);
the `runtime` stage is cached by the builder like any layer. No local engine is involved. On
a native arm64 node the harness runs natively and the report says so (latency `measured`);
on a node that emulates arm64 (binfmt) it is labelled emulated and counted like locally.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import Any

from edge_kit.docker import engine
from edge_kit.docker.image import GUEST, GUEST_PYTHON, PLATFORM, dockerfile, payload, write_context
from edge_kit.errors import DeviceError, RuntimeFailure
from edge_kit.profiler.backends import HarnessRun
from edge_kit.targets import Target


def builder_dockerfile(job: Any, base: str | None, python: str) -> str:
    """The runtime stage, then `profile` (runs the driver) and `report` (exports /out)."""
    runtime = dockerfile(base, python, {}).replace(
        f"FROM {base or 'scratch'}", f"FROM {base or 'scratch'} AS runtime", 1
    )
    env = " ".join(f"{k}={json.dumps(v)}" for k, v in job.environment().items())
    plan = json.dumps([python, f"{GUEST}/driver.py", json.dumps(job.plan(loader_check=True))])
    lines = [
        "",
        "# --builder: profile during the build, on the builder's node; export only /out",
        "FROM runtime AS profile",
        f"COPY view/ {GUEST}/view/",
        f"COPY model/ {GUEST}/model/",
        f"COPY input/ {GUEST}/input/",
        f"ENV {env}",
        "ARG EDGEKIT_RUN_ID",
        f"RUN {plan}",
        "",
        "FROM scratch AS report",
        "COPY --from=profile /out/ /",
    ]
    return runtime + "\n".join(lines) + "\n"


def builder_driver(builder: str) -> tuple[str, str]:
    """(driver, first node's endpoint) of a buildx builder; DeviceError (12) when it does not answer."""
    proc = engine.docker(["buildx", "inspect", builder], timeout=60)
    if proc.returncode != 0:
        raise DeviceError(
            f"the buildx builder {builder} does not answer: {engine.last_line(proc.stderr)}",
            hint="docker buildx ls lists the builders; or drop --builder to use the local engine",
        )
    fields = dict(ln.split(":", 1) for ln in proc.stdout.splitlines() if ":" in ln)
    return fields.get("Driver", "").strip(), fields.get("Endpoint", "").strip()


def build_command(builder: str, context: Path, out: Path, driver: tuple[str, str] = ("", "")) -> list[str]:
    """The `docker buildx --builder NAME build ...` that profiles and exports the report into `out`.

    A builder of the `docker` driver is the engine of a docker context: buildx builds on it only
    from that context, so the command becomes `docker --context NAME buildx build ...`."""
    kind, endpoint = driver
    where = (
        ["--context", endpoint, "buildx"]
        if kind == "docker" and builder != "default"
        else ["buildx", "--builder", builder]
    )
    return [
        *where,
        "build",
        "--platform",
        PLATFORM,
        "--network",
        "none",
        "--progress",
        "plain",
        "--target",
        "report",
        "--build-arg",
        f"EDGEKIT_RUN_ID={uuid.uuid4().hex}",
        "--output",
        f"type=local,dest={out}",
        str(context),
    ]


def write_builder_context(job: Any, context: Path, base: str | None) -> None:
    """Dockerfile, edgekit.tar (root filesystem unless `base`), the view, the model and the inputs."""
    from edge_kit.emulation.rootfs import ensure_rootfs
    from edge_kit.profiler.docker import write_view

    text = builder_dockerfile(job, base, GUEST_PYTHON if base is None else "python3.11")
    write_context(context, None if base else ensure_rootfs(), payload(), text)
    write_view(job.target, context / "view")
    for folder, source in (("model", job.model), ("input", job.inputs)):
        (context / folder).mkdir()
        if source is not None:
            shutil.copy2(source, context / folder / Path(source).name)


def run_on_builder(
    backend: Any, target: Target, model: Path, args: list[str], count_runs: int, count_threads: int, timeout_s: float
) -> HarnessRun:
    """Profile in a build on `backend.builder`; the report is whatever the node exported."""
    from edge_kit.profiler.docker import Job, read_steps

    job = Job(target, model.resolve(), args, count_runs, count_threads, timeout_s)
    job.harness("/out/report.json")  # resolves job.inputs
    with tempfile.TemporaryDirectory(prefix="edgekit-builder-") as tmp:
        context, out = Path(tmp) / "context", Path(tmp) / "out"
        write_builder_context(job, context, backend.base_image)
        cmd = build_command(backend.builder, context, out, builder_driver(backend.builder))
        budget = timeout_s * (len(job.plan()["steps"]) + 1) + 600
        try:
            proc = engine.docker(cmd, timeout=budget)
        except subprocess.TimeoutExpired:
            raise RuntimeFailure(f"the build on builder {backend.builder} ran past {budget:.0f} s") from None
        if proc.returncode != 0:
            raise engine.failure(f"the profile build on builder {backend.builder}", proc)
        steps = json.loads((out / "steps.json").read_text()) if (out / "steps.json").exists() else {}
        host: dict[str, Any] = next((s for s in steps.get("steps", []) if s["name"] == "host"), {})
        backend.emulated = host.get("returncode") == 0  # the node runs x86_64 programs: arm64 is emulated there
        if not backend.emulated:
            job.count_runs = 0
        report, counts, backend.counts_note = read_steps(out, model, job)
        if not backend.emulated:
            backend.counts_note = "instructions not counted: the builder runs arm64 natively (no counting QEMU)"
    return HarnessRun(report, counts, ["docker", *cmd])
