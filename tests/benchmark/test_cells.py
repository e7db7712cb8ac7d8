"""Cell plumbing: side-by-side exports share the host's cores instead of oversubscribing them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from edge_kit.benchmark import cells, host_threads


@pytest.mark.parametrize("cores,jobs,n_cells,expected", [(8, 2, 12, 4), (8, 8, 3, 2), (2, 2, 9, 1), (2, 16, 16, 1)])
def test_each_export_gets_its_share_of_the_cores(
    monkeypatch: pytest.MonkeyPatch, cores: int, jobs: int, n_cells: int, expected: int
) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: cores)
    assert host_threads(jobs, n_cells) == expected


def test_the_share_reaches_the_exports_frameworks(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen: dict[str, str] = {}

    def child(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        seen.update(kwargs["env"])  # type: ignore[arg-type]
        return subprocess.CompletedProcess(cmd, 0, "{}", "")

    monkeypatch.setattr(cells, "run_child", child)
    assert cells._edgekit(["export"], tmp_path / "log", 60, threads=3) == (0, "{}")
    assert (seen["OMP_NUM_THREADS"], seen["TF_NUM_INTRAOP_THREADS"]) == ("3", "3")
