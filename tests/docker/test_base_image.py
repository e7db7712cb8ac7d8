"""`--base-image`: a user's own linux/arm64 image as the base, checked for python3.11, numpy and the runtimes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import assert_clean_error, run_cli
from tests.docker.conftest import docker

NO_ORT = "edgekit-test-base:no-onnxruntime"
NO_PYTHON = "edgekit-test-base:no-python"


def _build(tag: str, folder: Path, text: str) -> None:
    folder.mkdir()
    (folder / "Dockerfile").write_text(text)
    (folder / "hello.txt").write_text("hi\n")
    cmd = ["buildx", "build", "--network", "none", "--platform", "linux/arm64", "--load", "-t", tag, str(folder)]
    proc = docker(*cmd, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]


@pytest.fixture(scope="module")
def user_images(profiling_image, tmp_path_factory: pytest.TempPathFactory):
    """A board image with python3.11, numpy and LiteRT but no onnxruntime; and one without python."""
    folder = tmp_path_factory.mktemp("base")
    remove = "import shutil; shutil.rmtree('/usr/local/lib/python3.11/dist-packages/onnxruntime')"
    _build(NO_ORT, folder / "no-ort", f'FROM {profiling_image.tag}\nRUN ["/usr/bin/python3.11", "-c", "{remove}"]\n')
    _build(NO_PYTHON, folder / "no-python", "FROM scratch\nCOPY hello.txt /hello.txt\n")
    yield
    built = docker("images", "-q", "--filter", f"label=org.edgekit.base={NO_ORT}").stdout.split()
    docker("rmi", "-f", NO_ORT, NO_PYTHON, *built)


def test_a_base_image_runs_what_it_has_and_names_what_it_lacks(user_images, digits_artifacts: dict):
    flags = ("--target", "raspi", "--backend", "docker", "--base-image", NO_ORT, "--num_runs", "2", "--no-count")
    result = run_cli("profile", digits_artifacts["tflite"], *flags, "--json", timeout=900)
    assert result.code == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert report["backend"]["base_image"] == NO_ORT and report["runtime"]["name"] == "litert"
    assert report["backend"]["image"] != f"{NO_ORT}" and report["instructions"] is None
    missing = run_cli("profile", digits_artifacts["onnx"], *flags)
    assert_clean_error(missing, 8, f"the base image {NO_ORT} has no onnxruntime", "pip install", "drop --base-image")


def test_a_base_image_without_python_or_not_here(user_images, digits_artifacts: dict):
    flags = ("--target", "raspi", "--backend", "docker")
    result = run_cli("profile", digits_artifacts["tflite"], *flags, "--base-image", NO_PYTHON)
    assert_clean_error(result, 8, f"the base image {NO_PYTHON} has no python3.11 on its path", "drop --base-image")
    result = run_cli("profile", digits_artifacts["tflite"], *flags, "--base-image", "edgekit-test-base:absent")
    assert_clean_error(result, 8, "is not in the local docker engine (edgekit pulls nothing)", "docker load")
