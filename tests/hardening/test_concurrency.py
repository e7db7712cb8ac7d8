"""Concurrent writers of the same output: one complete result wins, never a mix."""

from __future__ import annotations

import fcntl
import json
import multiprocessing
import os
import subprocess
from pathlib import Path

import pytest

from edge_kit.fsutil import atomic_files, sha256_file
from edge_kit.manifest import manifest_path
from tests.conftest import EDGEKIT
from tests.hardening.conftest import leftovers

pytestmark = pytest.mark.timeout(600)


def test_two_exports_to_the_same_output_do_not_interleave(tiny: dict[str, Path], tmp_path: Path) -> None:
    """Two different exports (torch → onnx, and the ONNX source copied) race for one -o."""
    out = tmp_path / "out" / "m.onnx"
    sources = {str(tiny["cnn.pt2"]), str(tiny["cnn.onnx"])}
    for _ in range(2):
        procs = [
            subprocess.Popen(
                [*EDGEKIT, "export", source, "--format", "onnx", "-o", str(out)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for source in sorted(sources)
        ]
        results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
        assert [code for code, _ in results] == [0, 0], [err[-1000:] for _, err in results]
        manifest = json.loads(manifest_path(out).read_text())
        assert manifest["artifact"]["sha256"] == sha256_file(out)
        assert manifest["source"]["path"] in sources
        if manifest["source"]["path"] == str(tiny["cnn.onnx"]):  # an ONNX source is copied as it is
            assert out.read_bytes() == tiny["cnn.onnx"].read_bytes()
        assert sorted(p.name for p in out.parent.iterdir()) == ["m.onnx", "m.onnx.json"]
        assert not leftovers(out.parent)


def _publish(folder: str, tag: str, rounds: int) -> None:
    for i in range(rounds):
        with atomic_files(Path(folder) / "a.bin", Path(folder) / "a.bin.json") as (first, second):
            first.write_text(f"{tag} {i}\n" * 5000)  # large enough for the writes to overlap
            second.write_text(f"{tag} {i}")


def _pair(folder: Path) -> tuple[str, str] | None:
    try:
        return (folder / "a.bin").read_text().splitlines()[0], (folder / "a.bin.json").read_text()
    except (FileNotFoundError, IndexError):
        return None


def _watch(folder: Path, workers: list[multiprocessing.process.BaseProcess]) -> tuple[int, int]:
    """(pairs seen, mismatched pairs) while the workers run, each read under the folder's lock."""
    seen = mixed = 0
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        while any(w.is_alive() for w in workers):
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                pair = _pair(folder)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
            if pair is not None:
                seen, mixed = seen + 1, mixed + (pair[0] != pair[1])
    finally:
        os.close(fd)
    return seen, mixed


def test_pairs_published_by_racing_processes_always_match(tmp_path: Path) -> None:
    """Four processes publish (artifact, manifest)-like pairs; under the folder lock they always match."""
    context = multiprocessing.get_context("spawn")
    folder = tmp_path / "race"
    folder.mkdir()
    workers = [context.Process(target=_publish, args=(str(folder), f"w{n}", 60)) for n in range(4)]
    for worker in workers:
        worker.start()
    seen, mixed = _watch(folder, workers)
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    assert seen > 0 and mixed == 0, (seen, mixed)
    assert _pair(folder) is not None and len(set(_pair(folder) or ())) == 1
    assert sorted(os.listdir(folder)) == ["a.bin", "a.bin.json"]
