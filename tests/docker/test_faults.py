"""Faults: a hung run, a killed container, the engine stopping mid-build and mid-run, a build that fails.
Each is one error line with its documented exit code, and no container or untagged image is left."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from tests.conftest import EDGEKIT, assert_clean_error, run_cli
from tests.docker.conftest import PrivateEngine, docker, leftovers, wait_for_container


def _start(*args: str, env: dict | None = None) -> subprocess.Popen[str]:
    import os

    return subprocess.Popen(
        [*EDGEKIT, "profile", *map(str, args), "--target", "raspi", "--backend", "docker"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def _finish(proc: subprocess.Popen[str]):
    from tests.conftest import CliResult

    out, err = proc.communicate(timeout=600)
    return CliResult(proc.returncode, out, err)


def test_a_run_past_its_timeout_is_stopped(digits_artifacts: dict, profiling_image):
    result = run_cli("profile", digits_artifacts["onnx"], "--target", "raspi", "--backend", "docker", "--timeout", "2")
    assert_clean_error(result, 9, "in the container (digits.onnx) timed out after 2 s", "raise --timeout")
    assert leftovers() == ([], [])


def test_a_container_killed_from_outside(digits_artifacts: dict, profiling_image):
    proc = _start(digits_artifacts["tflite"])
    name = wait_for_container()
    assert docker("kill", name).returncode == 0
    assert_clean_error(_finish(proc), 9, "profiling container was killed")
    assert leftovers() == ([], [])


def test_the_engine_stopping_mid_build_and_mid_run(private_engine: PrivateEngine, digits_artifacts: dict):
    env = private_engine.env
    # 1. while the profiling image is being built in the (empty) private engine
    proc = _start(digits_artifacts["onnx"], env=env)
    deadline = time.monotonic() + 300
    while (
        time.monotonic() < deadline
        and "buildx build"
        not in subprocess.run(
            ["ps", "-o", "args=", "--ppid", str(proc.pid)], capture_output=True, text=True, check=False
        ).stdout
    ):
        time.sleep(0.2)
    time.sleep(2)
    private_engine.stop()
    # the build may finish in the 2 s before the stop: then the next step (inspecting the image) sees it
    assert_clean_error(_finish(proc), 12, "docker engine stopped answering during")
    private_engine.start()
    assert leftovers(private_engine.host) == ([], [])
    # 2. while the container runs the harness
    proc = _start(digits_artifacts["onnx"], env=env)
    wait_for_container(private_engine.host, timeout_s=600)
    time.sleep(2)
    private_engine.stop()
    assert_clean_error(_finish(proc), 12, "docker engine stopped answering during the profiling run")
    private_engine.start()
    assert leftovers(private_engine.host) == ([], [])


def test_an_image_build_that_fails(engine, digits_artifacts: dict, tmp_path: Path):
    """A real failure: the engine's disk (a 64 MB tmpfs) is too small for the image."""
    import os
    import shutil

    import pytest

    if os.geteuid() != 0 or shutil.which("dockerd") is None:
        pytest.skip("needs root to mount a tmpfs and run a second dockerd")
    root = tmp_path / "small"
    root.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(root)], check=True)
    small = PrivateEngine(root, "vfs")
    try:
        small.start()
        result = run_cli("profile", digits_artifacts["onnx"], "--target", "raspi", "--backend", "docker", env=small.env)
        assert_clean_error(result, 9, "building the profiling image failed")
        assert "no space left on device" in result.stderr.lower()
        assert leftovers(small.host) == ([], [])
    finally:
        small.stop()
        subprocess.run(["umount", "-l", str(root)], check=False)
        shutil.rmtree(small.run_dir, ignore_errors=True)


def test_an_unknown_builder_is_unreachable(digits_artifacts: dict, engine):
    result = run_cli(
        "profile", digits_artifacts["onnx"], "--target", "raspi", "--backend", "docker", "--builder", "no-such-node"
    )
    assert_clean_error(result, 12, "buildx builder no-such-node does not answer", "docker buildx ls")
