"""Real artifacts of the digits and MNIST sample models in every format each platform takes."""

from __future__ import annotations

import io
import json
import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest

from edge_kit.pipeline import ExportRequest, export
from tests.conftest import SAMPLES

FORMATS = {"tflite": ".tflite", "onnx": ".onnx", "executorch": ".pte"}
MODELS = ("digits", "mnist")
CASES = [(m, f) for m in MODELS for f in FORMATS]
EMULATION = bool(shutil.which("qemu-aarch64") and shutil.which("mmdebstrap"))
needs_emulation = pytest.mark.skipif(not EMULATION, reason="needs apt packages qemu-user and mmdebstrap")
needs_cross = pytest.mark.skipif(
    not shutil.which("aarch64-linux-gnu-g++"), reason="needs g++-aarch64-linux-gnu for the ExecuTorch runtime"
)


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Path]:
    """(model, format) -> an exported, validated artifact with its manifest (and accuracy)."""
    folder = tmp_path_factory.mktemp("package-artifacts")
    out = {}
    for model, fmt in CASES:
        dest = folder / f"{model}{FORMATS[fmt]}"
        result = export(
            ExportRequest(
                model=SAMPLES / f"{model}_cnn.pt2",
                format=fmt,
                output=dest,
                target="raspi",
                eval_data=SAMPLES / f"{model}_eval.npz",
                num_samples=10,
            )
        )
        assert result.status == "ok", result.manifest["validation"]
        out[(model, fmt)] = dest
    return out


@pytest.fixture(scope="session")
def labels_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Ten digit names, one per line (both sample models classify digits 0-9)."""
    path = tmp_path_factory.mktemp("labels") / "labels.txt"
    path.write_text("".join(f"digit {i}\n" for i in range(10)))
    return path


def zip_members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def tar_members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path, "r:gz") as archive:
        return {m.name: archive.extractfile(m).read() for m in archive.getmembers() if m.isfile()}


def sums(text: bytes) -> dict[str, str]:
    """SHA256SUMS as {relative path: hex}."""
    return {line.split("  ", 1)[1]: line.split("  ", 1)[0] for line in text.decode().splitlines()}


def wheel_members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def metadata_of(members: dict[str, bytes], suffix: str = ".metadata.json") -> dict:
    return json.loads(next(v for k, v in members.items() if k.endswith(suffix)))


SUFFIX = {"android": ".aar", "ios": ".zip", "linux": ".tar.gz"}


@pytest.fixture(scope="session")
def bundles(artifacts, labels_file, tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str, str], Path]:
    """(platform, model, format) -> its bundle; digits carry labels, MNIST a normalization for raw
    0-255 pixels: (raw * 0.5 - 0) / 127.5 = raw / 255, the [0, 1] scale the model was trained on."""
    from edge_kit.packager import Normalization, PackageRequest, package

    folder = tmp_path_factory.mktemp("bundles")
    out = {}
    for (model, fmt), artifact in artifacts.items():
        for platform, suffix in SUFFIX.items():
            if platform == "linux" and fmt == "executorch" and not shutil.which("aarch64-linux-gnu-g++"):
                continue
            extra = (
                {"labels": labels_file}
                if model == "digits"
                else {"normalization": Normalization(scale=0.5, mean=(0.0,), std=(127.5,))}
            )
            dest = folder / f"{model}-{fmt}-{platform}{suffix}"
            result = package(PackageRequest(artifact=artifact, platform=platform, output=dest, **extra))
            assert result.archive == dest and dest.stat().st_size == result.size_bytes
            out[(platform, model, fmt)] = dest
    return out
