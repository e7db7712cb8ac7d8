"""`--builder NAME`: the generated build, and a real run on a second builder (another engine's buildx)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from edge_kit.profiler.docker import Job
from edge_kit.profiler.docker_builder import build_command, builder_dockerfile
from edge_kit.targets import get_target
from tests.conftest import run_cli
from tests.docker.conftest import PrivateEngine, docker


def _job(model: Path, inputs: Path | None = None) -> Job:
    args = ["--num_threads", "4", *(["--input", str(inputs)] if inputs else [])]
    job = Job(get_target("raspi5"), model, args, count_runs=2, count_threads=1, timeout_s=300)
    job.harness("/out/report.json")
    return job


def test_the_build_runs_the_driver_in_a_profile_stage_and_exports_only_out(digits_artifacts: dict, tmp_path: Path):
    inputs = tmp_path / "x.npz"
    job = _job(digits_artifacts["executorch"], inputs)
    text = builder_dockerfile(job, None, "/usr/bin/python3.11")
    assert "FROM scratch AS runtime" in text and "FROM runtime AS profile" in text and "FROM scratch AS report" in text
    assert "COPY --from=profile /out/ /" in text and "ARG EDGEKIT_RUN_ID" in text and 'QEMU_CPU="cortex-a76"' in text
    run = next(line for line in text.splitlines() if line.startswith("RUN "))
    argv = json.loads(run[4:])
    assert argv[:2] == ["/usr/bin/python3.11", "/opt/edgekit/driver.py"]
    steps = json.loads(argv[2])["steps"]
    assert [s["name"] for s in steps] == ["host", "timing", "count"] and steps[0]["optional"]
    timing = steps[1]["argv"]
    assert timing[:6] == [
        "{python}",
        "/opt/edgekit/harness/edgekit_harness.py",
        "--model",
        "/opt/edgekit/model/digits.pte",
        "--out",
        "/out/report.json",
    ]
    assert "/opt/edgekit/input/x.npz" in timing and str(inputs) not in timing
    assert "--et-lib" in timing and "-plugin" in steps[2]["argv"] and "cortex-a76" in steps[2]["argv"]


def test_the_command_per_driver(tmp_path: Path):
    remote = build_command("arm-node", tmp_path / "ctx", tmp_path / "out", ("remote", "tcp://10.0.0.2:1234"))
    assert remote[:4] == ["buildx", "--builder", "arm-node", "build"]
    joined = " ".join(remote)
    assert "--platform linux/arm64" in joined and "--target report" in joined and "--load" not in joined
    assert f"--output type=local,dest={tmp_path / 'out'}" in joined and "--network none" in joined
    other = build_command("arm-node", tmp_path / "ctx", tmp_path / "out", ("remote", ""))
    ids = {a for cmd in (remote, other) for a in cmd if a.startswith("EDGEKIT_RUN_ID=")}
    assert len(ids) == 2  # every profile really runs: the RUN step is never a cache hit
    context = build_command("node2", tmp_path / "ctx", tmp_path / "out", ("docker", "node2"))
    assert context[:4] == ["--context", "node2", "buildx", "build"]  # a docker-driver builder is a context's engine


def test_a_real_second_builder(private_engine: PrivateEngine, digits_artifacts: dict):
    """The private engine as a buildx builder (a docker context): the profile runs in its build."""
    name = f"edgekit-test-{uuid.uuid4().hex[:6]}"
    assert docker("context", "create", name, "--docker", f"host={private_engine.host}").returncode == 0
    try:
        result = run_cli(
            "profile",
            digits_artifacts["tflite"],
            "--target",
            "raspi",
            "--backend",
            "docker",
            "--builder",
            name,
            "--num_runs",
            "2",
            "--count-runs",
            "1",
            "--json",
            timeout=1200,
        )
        assert result.code == 0, result.stderr[-3000:]
        report = json.loads(result.stdout)
        qemu = run_cli(
            "profile", digits_artifacts["tflite"], "--target", "raspi", "--num_runs", "2", "--count-runs", "1", "--json"
        )
        expected = json.loads(qemu.stdout)
    finally:
        docker("context", "rm", "-f", name)
    backend = report["backend"]
    assert backend["builder"] == name and backend["where"] == f"in the build on buildx builder {name}"
    assert backend["emulated"] and report["latency"]["kind"] == "emulated"  # an x86_64 node emulates arm64
    assert [o["sha256"] for o in report["outputs"]] == [o["sha256"] for o in expected["outputs"]]
    assert report["instructions"]["regions"] == 1
    total, want = report["instructions"]["per_inference_total"], expected["instructions"]["per_inference_total"]
    assert abs(total - want) <= 0.01 * want
    assert docker("ps", "-aq", host=private_engine.host).stdout.split() == []  # nothing left running there
