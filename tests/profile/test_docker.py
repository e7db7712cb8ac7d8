"""The docker backend: the generated build context and commands are checked here; the real
build/run needs a Docker engine with buildx and is skipped (with the reason) where none answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_kit.errors import EnvironmentSetupError
from edge_kit.profile import ProfileRequest, profile
from edge_kit.profile.docker import build_context, docker_status, dockerfile, runtime_pins
from edge_kit.targets import get_target

USABLE, WHY = docker_status()


def test_dockerfile_pins_the_same_arm64_runtimes_as_the_qemu_rootfs():
    text = dockerfile(get_target("raspi"), with_et=True)
    assert "FROM --platform=linux/arm64 python:3.11-slim-bookworm" in text
    for pin in runtime_pins():
        assert pin in text
    assert "EDGEKIT_ET_LIB" in text and "edgekit_harness.py" in text


def test_build_context_and_commands(digits_artifacts: dict, tmp_path: Path):
    target = get_target("raspi5")
    plan = build_context(target, digits_artifacts["executorch"], ["--num_threads", "4"], tmp_path / "out",
                         tmp_path / "ctx", builder="arm-node")
    names = {p.relative_to(plan.context).as_posix() for p in plan.context.rglob("*") if p.is_file()}
    assert {"Dockerfile", "cpuinfo", "harness/edgekit_harness.py", "harness/harness_runtimes.py",
            "harness/et_runtime.py", "model/digits.pte", "et/libedgekit_et.so"} <= names
    assert plan.build[:5] == ["docker", "buildx", "--builder", "arm-node", "build"]
    assert ["--platform", "linux/arm64", "--load"] == plan.build[5:8]
    run = " ".join(plan.run)
    assert "--platform linux/arm64" in run and "--cpus 4" in run and "--memory 8192m" in run
    assert "QEMU_CPU=cortex-a76" in run and "/proc/cpuinfo:ro" in run
    assert "0xd0b" in (plan.context / "cpuinfo").read_text()


@pytest.mark.skipif(USABLE, reason="a Docker engine is present: the real run below covers it")
def test_without_an_engine_the_error_points_to_qemu(digits_artifacts: dict):
    with pytest.raises(EnvironmentSetupError, match="Docker engine") as err:
        profile(ProfileRequest(artifact=digits_artifacts["onnx"], target="raspi", backend="docker"))
    assert "--backend qemu" in str(err.value)


@pytest.mark.skipif(not USABLE, reason=f"no usable Docker engine here: {WHY}")
def test_docker_backend_profiles_for_real(digits_artifacts: dict):
    report = profile(ProfileRequest(artifact=digits_artifacts["onnx"], target="raspi", backend="docker",
                                    num_runs=3))
    assert report["backend"]["name"] == "docker" and report["machine"]["machine"] == "aarch64"
