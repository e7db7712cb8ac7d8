"""edgekit's own image (the top-level Dockerfile) builds offline from the locally made base, and works.

The base (tools/make_base_image.py: Debian python3.11 + edgekit's pinned dependencies from the
venv) is made at install time by `make docker-env`; this test only builds on it, with
`--network none`, then runs `edgekit --help` and exports the digits sample inside the image."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.conftest import ROOT, SAMPLES
from tests.docker.conftest import docker, skip_or_fail


@pytest.fixture(scope="module")
def base_image(engine) -> str:
    sys.path.insert(0, str(ROOT / "tools"))
    import make_base_image

    tag = f"{make_base_image.REPO}:{make_base_image.key(make_base_image.closure())}"
    if docker("image", "inspect", tag).returncode != 0:
        skip_or_fail(f"the base image {tag} is not built: make docker-env (or tools/make_base_image.py) makes it")
    return tag


def test_the_image_builds_offline_and_exports_the_digits_sample(base_image: str, tmp_path: Path):
    tag = f"edgekit-test:{uuid.uuid4().hex[:8]}"
    build = ["buildx", "build", "--network", "none", "--progress", "plain", "--build-arg", f"BASE_IMAGE={base_image}"]
    proc = docker(*build, "--load", "-t", tag, str(ROOT), timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    try:
        helped = docker("run", "--rm", "--network", "none", tag, timeout=300)
        assert helped.returncode == 0 and "Export, quantize, profile" in helped.stdout + helped.stderr
        out = tmp_path / "out"
        out.mkdir()
        volumes = ["-v", f"{SAMPLES}:/samples:ro", "-v", f"{out}:/out"]
        args = ["export", "/samples/digits_cnn.pt2", "--format", "onnx", "-o", "/out/digits.onnx", "--json"]
        exported = docker("run", "--rm", "--network", "none", *volumes, tag, *args, timeout=900)
        assert exported.returncode == 0, exported.stderr[-3000:]
        manifest = json.loads(exported.stdout)
        assert manifest["status"] == "ok" and (out / "digits.onnx").stat().st_size > 0
        assert (out / "digits.onnx.json").is_file()
    finally:
        docker("rmi", "-f", tag)
        subprocess.run(["rm", "-rf", str(tmp_path / "out")], check=False)
