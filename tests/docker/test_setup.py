"""`edgekit setup|doctor --backend docker`: checks, fixes and the exact commands; a missing engine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge_kit.docker.setup import binfmt_commands, binfmt_rule, binfmt_status, docker_checks
from tests.conftest import assert_clean_error, run_cli

DEBIAN_CONF = Path("/usr/lib/binfmt.d/qemu-aarch64.conf")


def test_the_binfmt_rule_is_debians_with_the_static_qemu_and_flag_f():
    rule = binfmt_rule().split(":")
    assert rule[1] == "qemu-aarch64" and rule[6] == "/usr/bin/qemu-aarch64-static" and rule[7] == "F"
    if DEBIAN_CONF.exists():  # same magic and mask as Debian's own registration
        debian = DEBIAN_CONF.read_text().strip().split(":")
        assert rule[4:6] == debian[4:6]
    assert any("sudo tee /proc/sys/fs/binfmt_misc/register" in c for c in binfmt_commands())


def test_doctor_passes_with_the_engine_and_names_every_check(engine):
    assert binfmt_status()[0]
    result = run_cli("doctor", "--target", "raspi", "--backend", "docker", "--json", timeout=300)
    assert result.code == 0, result.stderr[-2000:]
    checks = {c["name"]: c for c in json.loads(result.stdout)}
    for name in ("docker client", "docker engine", "docker buildx", "arm64 binfmt"):
        assert checks[name]["ok"] and checks[name]["required"], checks[name]
    assert {c.name for c in docker_checks()} == {"docker client", "docker engine", "docker buildx", "arm64 binfmt"}


@pytest.mark.parametrize("command", ["doctor", "profile"])
def test_without_an_engine_one_line_says_how_to_start_one(command: str, digits_artifacts: dict, tmp_path: Path):
    env = {"DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"}
    if command == "doctor":
        result = run_cli("doctor", "--target", "raspi", "--backend", "docker", env=env, timeout=300)
        assert_clean_error(result, 8, "docker engine")
        assert "fix: start the Docker engine" in result.stdout
    else:
        result = run_cli("profile", digits_artifacts["onnx"], "--target", "raspi", "--backend", "docker", env=env)
        assert_clean_error(result, 8, "docker backend needs a docker engine", "systemctl start docker")


def test_builder_and_base_image_need_the_docker_backend(digits_artifacts: dict):
    result = run_cli("profile", digits_artifacts["onnx"], "--builder", "arm-node")
    assert_clean_error(result, 2, "--builder and --base-image need the docker backend", "--backend docker")
