"""The docker backend gives what the qemu backend gives: the same outputs bit for bit, the same report
schema, emulated labels, the same instruction counts and device estimate (the README's command)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli

FLAGS = ("--target", "raspi", "--num_runs", "2", "--count-runs", "1", "--json")


def _profile(artifact, *backend: str) -> dict:
    result = run_cli("profile", artifact, *FLAGS, *backend, timeout=900)
    assert result.code == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


@pytest.mark.parametrize("fmt", ["tflite", "onnx", "executorch"])
def test_docker_matches_qemu(fmt: str, digits_artifacts: dict, profiling_image):
    docker = _profile(digits_artifacts[fmt], "--backend", "docker")
    qemu = _profile(digits_artifacts[fmt], "--backend", "qemu")
    assert docker["backend"]["name"] == "docker" and qemu["backend"]["name"] == "qemu"
    assert docker["backend"]["image"] == profiling_image.tag and docker["backend"]["emulated"]
    # outputs: the exact bytes (sha256 of each output array) and the statistics
    assert [o["sha256"] for o in docker["outputs"]] == [o["sha256"] for o in qemu["outputs"]]
    assert docker["outputs"] == qemu["outputs"]
    # one schema; emulated labels; the same guest CPU (model, files and cores)
    assert set(docker) == set(qemu) and docker["schema"] == qemu["schema"] == "edgekit.profile"
    assert set(docker["latency"]) == set(qemu["latency"]) and docker["latency"]["kind"] == "emulated"
    assert "emulated" in docker["latency"]["note"]
    assert docker["machine"]["machine"] == "aarch64" and docker["machine"]["cpu"] == qemu["machine"]["cpu"]
    assert docker["machine"]["cpu_count"] == qemu["machine"]["cpu_count"] == 4
    assert docker["runtime"] == qemu["runtime"]
    # instruction counts from the counting QEMU inside the container, and the estimate built on them
    d, q = docker["instructions"], qemu["instructions"]
    assert d["regions"] == q["regions"] == 1 and docker["backend"]["instructions_note"] is None
    assert abs(d["per_inference_total"] - q["per_inference_total"]) <= 0.01 * q["per_inference_total"]
    for cls, count in q["per_inference"].items():
        assert abs(d["per_inference"][cls] - count) <= max(0.02 * count, 50), cls
    de, qe = docker["estimate"], qemu["estimate"]
    assert de is not None and qe is not None and de.keys() == qe.keys()
    latency = "estimated_device_latency_ms"
    if latency in qe:
        assert abs(de[latency] - qe[latency]) <= 0.02 * qe[latency]


def test_a_decoder_generates_the_same_tokens_in_docker_as_in_qemu(exported, raspi_profile, profiling_image):
    """The generation loop through docker: emulated labels, the qemu run's tokens, its own counted estimate."""
    from tests.generative.conftest import RASPI_PROFILE

    result = run_cli("profile", exported[0], *RASPI_PROFILE, "--backend", "docker", "--json", timeout=900)
    assert result.code == 0, result.stderr[-3000:]
    docker = json.loads(result.stdout)
    assert docker["schema"] == raspi_profile["schema"] == "edgekit.generation-profile"
    assert docker["backend"]["name"] == "docker" and docker["backend"]["image"] == profiling_image.tag
    assert docker["kind"] == docker["prefill"]["kind"] == docker["decode"]["kind"] == "emulated"
    assert docker["decode"]["tokens"] == raspi_profile["decode"]["tokens"]
    d, q = docker["estimate"], raspi_profile["estimate"]
    assert d["available"] and q["available"]
    for phase in ("prefill", "decode_per_token"):
        assert d[phase]["instructions"] == pytest.approx(q[phase]["instructions"], rel=0.01)
