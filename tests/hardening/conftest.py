"""Shared pieces of the hardening suite: a CLI runner that takes byte paths, tmpfs mounts, artifacts."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge_kit.manifest import manifest_path
from tests.conftest import EDGEKIT, CliResult

Arg = str | bytes | Path


def edgekit(*args: Arg, env: dict[str, str] | None = None, timeout: float = 300) -> CliResult:
    """The real `edgekit` in a subprocess; arguments may be bytes (file names that are not UTF-8)."""
    proc = subprocess.run([*EDGEKIT, *args], capture_output=True, timeout=timeout, env={**os.environ, **(env or {})})
    return CliResult(proc.returncode, proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace"))


def leftovers(*folders: Path) -> list[Path]:
    """Temporary files edgekit would have left behind."""
    return [p for folder in folders for p in folder.rglob(".edgekit-tmp-*")]


class Mounts:
    """Small tmpfs mounts (full or read-only output folders), unmounted at the end of the test."""

    def __init__(self) -> None:
        self.points: list[Path] = []

    def tmpfs(self, point: Path, size: str = "64k") -> Path:
        point.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(point)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN): {done.stderr.strip()}")
        self.points.append(point)
        return point

    def read_only(self, point: Path) -> None:
        subprocess.run(["mount", "-o", "remount,ro", str(point)], check=True, capture_output=True, timeout=30)

    def fill(self, point: Path) -> None:
        """Write until the file system is full (ENOSPC), so nothing more fits."""
        with open(point / "filler.bin", "wb", buffering=0) as handle:
            try:
                while True:
                    handle.write(b"\0" * 1024)
            except OSError:
                pass

    def close(self) -> None:
        for point in reversed(self.points):
            subprocess.run(["umount", "-l", str(point)], capture_output=True, timeout=30)


@pytest.fixture
def mounts() -> Iterator[Mounts]:
    found = Mounts()
    try:
        yield found
    finally:
        found.close()


@pytest.fixture(scope="session")
def onnx_artifact(tiny: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny CNN exported to ONNX, with its manifest."""
    from edge_kit.pipeline import ExportRequest, export

    dest = tmp_path_factory.mktemp("hardening-artifact") / "cnn.onnx"
    export(ExportRequest(model=tiny["cnn.pt2"], format="onnx", output=dest, num_samples=2))
    return dest


def copy_artifact(artifact: Path, folder: Path, name: str | None = None) -> Path:
    """A copy of an artifact and its manifest in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / (name or artifact.name)
    shutil.copyfile(artifact, dest)
    shutil.copyfile(manifest_path(artifact), manifest_path(dest))
    return dest
