"""The docker backend: the generated build context and commands are checked here; the real
build/run needs a Docker engine with buildx and is skipped (with the reason) where none answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_kit.errors import EnvironmentSetupError
from edge_kit.profiler import ProfileRequest, profile
from edge_kit.profiler.docker import build_context, docker_status, dockerfile, runtime_pins
from edge_kit.targets import get_target
from tests.conftest import assert_clean_error, run_cli

USABLE, WHY = docker_status()


def test_dockerfile_pins_the_same_arm64_runtimes_as_the_qemu_rootfs():
    from edge_kit.emulation.rootfs import WHEELS

    text = dockerfile(get_target("raspi"), with_et=True)
    assert "FROM --platform=linux/arm64 python:3.11-slim-bookworm AS runtime" in text
    assert runtime_pins() == [f"{name}=={version}" for name, version in WHEELS.items()]
    for pin in runtime_pins():
        assert pin in text
    assert "onnxruntime==1.31.1" in text and "EDGEKIT_ET_LIB" in text and "edgekit_harness.py" in text
    assert "AS profile" not in text  # the harness runs in `docker run`, not in the build


def test_local_build_and_run_commands(digits_artifacts: dict, tmp_path: Path):
    target = get_target("raspi5")
    inputs = tmp_path / "x.npz"
    inputs.write_bytes(b"npz")
    plan = build_context(
        target,
        digits_artifacts["executorch"],
        ["--num_threads", "4", "--input", str(inputs)],
        tmp_path / "out",
        tmp_path / "ctx",
    )
    names = {p.relative_to(plan.context).as_posix() for p in plan.context.rglob("*") if p.is_file()}
    assert {
        "Dockerfile",
        "cpuinfo",
        "harness/edgekit_harness.py",
        "harness/harness_runtimes.py",
        "harness/et_runtime.py",
        "model/digits.pte",
        "et/libedgekit_et.so",
        "input/x.npz",
    } <= names
    assert plan.build[:3] == ["docker", "buildx", "build"] and "--builder" not in plan.build
    assert ["--platform", "linux/arm64", "--target", "runtime", "--load"] == plan.build[3:8]
    run = " ".join(plan.run)
    assert "--platform linux/arm64" in run and "--cpus 4" in run and "--memory 8192m" in run
    assert "QEMU_CPU=cortex-a76" in run and "/proc/cpuinfo:ro" in run
    assert "--input /opt/edgekit/input/x.npz" in run and str(inputs) not in run  # the image's copy
    assert "0xd0b" in (plan.context / "cpuinfo").read_text()


def test_builder_runs_the_harness_in_the_build_on_that_node(digits_artifacts: dict, tmp_path: Path):
    """`--builder NAME` passes through to `docker buildx --builder NAME`; the build itself profiles."""
    plan = build_context(
        get_target("raspi"),
        digits_artifacts["onnx"],
        ["--num_threads", "4"],
        tmp_path / "out",
        tmp_path / "ctx",
        builder="arm-node",
    )
    assert plan.run is None  # no local engine involved
    assert plan.build[:5] == ["docker", "buildx", "--builder", "arm-node", "build"]
    build = " ".join(plan.build)
    assert "--platform linux/arm64 --target report" in build and "--load" not in build
    assert f"--output type=local,dest={tmp_path / 'out'}" in build and "--build-arg EDGEKIT_RUN_ID=" in build
    text = (plan.context / "Dockerfile").read_text()
    assert "FROM runtime AS profile" in text and "FROM scratch AS report" in text and "$EDGEKIT_RUN_ID" in text
    assert (
        "python /opt/edgekit/harness/edgekit_harness.py --model /opt/edgekit/model/digits.onnx "
        "--out /out/report.json --num_threads 4"
    ) in text
    again = build_context(
        get_target("raspi"),
        digits_artifacts["onnx"],
        ["--num_threads", "4"],
        tmp_path / "o2",
        tmp_path / "ctx2",
        builder="arm-node",
    )
    run_ids = {a for p in (plan, again) for a in p.build if a.startswith("EDGEKIT_RUN_ID=")}
    assert len(run_ids) == 2  # every profile really runs (the RUN step is never a cache hit)


def test_cli_passes_the_builder_through(digits_artifacts: dict):
    result = run_cli(
        "profile", digits_artifacts["onnx"], "--target", "raspi", "--backend", "docker", "--builder", "arm-node"
    )
    if not USABLE:
        assert_clean_error(
            result, 8, "docker backend needs the buildx plugin and the builder arm-node", "--backend qemu"
        )


@pytest.mark.skipif(USABLE, reason="a Docker engine is present: the real run below covers it")
def test_without_an_engine_the_error_points_to_qemu(digits_artifacts: dict):
    with pytest.raises(EnvironmentSetupError, match="Docker engine") as err:
        profile(ProfileRequest(artifact=digits_artifacts["onnx"], target="raspi", backend="docker"))
    assert "--backend qemu" in str(err.value)


@pytest.mark.skipif(not USABLE, reason=f"no usable Docker engine here: {WHY}")
def test_docker_backend_profiles_for_real(digits_artifacts: dict):
    report = profile(ProfileRequest(artifact=digits_artifacts["onnx"], target="raspi", backend="docker", num_runs=3))
    assert report["backend"]["name"] == "docker" and report["machine"]["machine"] == "aarch64"
