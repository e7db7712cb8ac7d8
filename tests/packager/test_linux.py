"""Linux bundles: a wheel + Dockerfile; the wheel installs and predicts inside the emulated raspi."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from edge_kit.packager.metadata import schema
from edge_kit.packager.verify import GUEST_SCRIPT
from tests.conftest import SAMPLES
from tests.packager.conftest import (
    CASES,
    FORMATS,
    metadata_of,
    needs_cross,
    needs_emulation,
    sums,
    tar_members,
    wheel_members,
)

pytestmark = pytest.mark.timeout(900)
REQUIRES = {"tflite": "ai-edge-litert>=2.3.0", "onnx": "onnxruntime>=1.31.1", "executorch": None}


LINUX_CASES = [pytest.param(m, f, marks=needs_cross) if f == "executorch" else (m, f) for m, f in CASES]
# In the emulated board: every format on digits, and MNIST (raw 0-255 pixels) once — its other
# formats add minutes of emulation and exercise nothing the digits cases do not.
EMULATED_CASES = [c for c, (m, f) in zip(LINUX_CASES, CASES) if m != "mnist" or f == "tflite"]


def _wheel(bundle: Path) -> tuple[str, bytes]:
    return next((name, data) for name, data in tar_members(bundle).items() if name.endswith(".whl"))


@pytest.mark.parametrize("model, fmt", LINUX_CASES)
def test_the_bundle_holds_a_wheel_a_dockerfile_and_sums(bundles, model: str, fmt: str):
    members = tar_members(bundles[("linux", model, fmt)])
    root = f"{model}-linux/"
    tag = "py3-none-manylinux_2_28_aarch64" if fmt == "executorch" else "py3-none-any"
    wheel = f"{root}{model}_model-1.0.0-{tag}.whl"
    assert set(members) == {wheel, f"{root}Dockerfile", f"{root}README.md", f"{root}SHA256SUMS"}
    listed = sums(members[f"{root}SHA256SUMS"])
    assert set(listed) == {Path(n).name for n in members} - {"SHA256SUMS"}
    assert all(hashlib.sha256(members[root + n]).hexdigest() == digest for n, digest in listed.items())
    dockerfile = members[f"{root}Dockerfile"].decode()
    assert "FROM --platform=linux/arm64 python:3.11-slim-bookworm" in dockerfile
    assert (
        f"COPY {Path(wheel).name} /tmp/" in dockerfile and f'ENTRYPOINT ["python", "-m", "{model}_model"]' in dockerfile
    )
    inner = wheel_members(members[wheel])
    pkg = f"{model}_model/"
    assert {
        f"{pkg}__init__.py",
        f"{pkg}__main__.py",
        f"{pkg}_runtime.py",
        f"{pkg}{model}{FORMATS[fmt]}",
        f"{pkg}{model}.metadata.json",
    } <= set(inner)
    jsonschema.validate(metadata_of(inner), schema())
    requires = [
        line
        for line in inner[f"{model}_model-1.0.0.dist-info/METADATA"].decode().splitlines()
        if line.startswith("Requires-Dist:")
    ]
    assert requires == ["Requires-Dist: numpy>=1.23"] + ([f"Requires-Dist: {REQUIRES[fmt]}"] if REQUIRES[fmt] else [])
    if fmt == "executorch":
        assert f"{pkg}_et/libedgekit_et.so" in inner and f"{pkg}_et_runtime.py" in inner


def _install(wheel_name: str, data: bytes, tmp_path: Path) -> Path:
    """`pip install --no-deps --target` the wheel (the aarch64 one for that platform)."""
    wheel = tmp_path / Path(wheel_name).name
    wheel.write_bytes(data)
    platform = (
        []
        if wheel.name.endswith("-any.whl")
        else [
            "--platform",
            "manylinux_2_28_aarch64",
            "--only-binary=:all:",
            "--python-version",
            "3.11",
            "--implementation",
            "cp",
        ]
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--target",
            str(tmp_path / "site"),
            *platform,
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return tmp_path / "site"


def _source_top1(model: str, x: np.ndarray) -> np.ndarray:
    import torch

    module = torch.export.load(SAMPLES / f"{model}_cnn.pt2").module()
    with torch.no_grad():
        return np.concatenate([module(torch.from_numpy(x[i : i + 1])).numpy() for i in range(len(x))]).argmax(1)


@needs_emulation
@pytest.mark.parametrize("model, fmt", EMULATED_CASES)
def test_the_wheel_predicts_like_the_source_model_in_the_emulated_raspi(bundles, model: str, fmt: str, tmp_path: Path):
    from edge_kit.emulation.environment import guest_environment

    site = _install(*_wheel(bundles[("linux", model, fmt)]), tmp_path)
    data = np.load(SAMPLES / f"{model}_eval.npz")
    x = data["x"] * 255.0 if model == "mnist" else data["x"]  # MNIST bundles take raw 0-255 pixels
    np.save(tmp_path / "x.npy", x.astype(np.float32))
    env = guest_environment("raspi")
    env.run_python(
        ["-c", GUEST_SCRIPT, f"{model}_model", str(tmp_path / "x.npy"), str(tmp_path / "out.json")],
        timeout_s=600,
        extra_env={"PYTHONPATH": str(site)},
        what="the wheel",
    )
    guest = json.loads((tmp_path / "out.json").read_text())
    assert guest["file"].startswith(str(site))  # the installed wheel ran, not something else
    source = _source_top1(model, data["x"])
    matched = int((np.asarray(guest["indices"]) == source).sum())
    print(f"{model} {fmt}: {matched}/{len(source)} top-1 labels match the source model in the emulated raspi4")
    assert matched == len(source)
    if model == "digits":
        assert guest["labels"] == [f"digit {i}" for i in source]
