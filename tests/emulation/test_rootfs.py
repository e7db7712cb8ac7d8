"""The cached arm64 root filesystem: apt sources, cold build under a lock, corruption, reuse.

The cold-build tests build a real tree (mmdebstrap + pip, ~10-20 s with pip's cache
warm) in a temporary EDGEKIT_CACHE_DIR; the warm test reuses the normal cache.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edge_kit.emulation import aptsources, rootfs
from edge_kit.errors import EnvironmentSetupError

pytestmark = pytest.mark.timeout(900)
needs_tools = pytest.mark.skipif(
    not (shutil.which("qemu-aarch64") and shutil.which("mmdebstrap")),
    reason="needs apt packages qemu-user and mmdebstrap",
)

ORT_SO = f"{rootfs.GUEST_SITE}/onnxruntime/capi/onnxruntime_pybind11_state.cpython-311-aarch64-linux-gnu.so"
LITERT_SO = f"{rootfs.GUEST_SITE}/ai_edge_litert/libLiteRt.so"


def test_deb822_and_one_line_sources_are_retargeted(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d/debian.sources").write_text(
        "Types: deb deb-src\nURIs: http://mirror.example/debian\nSuites: trixie trixie-updates "
        "trixie-backports\nComponents: main contrib\nSigned-By: /usr/share/keyrings/k.gpg\n\n"
        "Types: deb\nURIs: http://mirror.example/debian\nSuites: sid\nComponents: main\nEnabled: no\n"
    )
    (tmp_path / "sources.list.d/vendor.sources").write_text(
        "Types: deb\nURIs: https://vendor.example/apt\nSuites: nodistro\nComponents: main\n"
    )
    (tmp_path / "sources.list.d/old.list.disabled").write_text("deb http://x/debian bookworm main\n")
    (tmp_path / "sources.list").write_text(
        "# comment\ndeb [arch=amd64] http://amd64only.example/debian trixie main\n"
        "deb http://security.example/debian-security trixie-security main contrib\n"
        "deb https://cloud.example/apt cloud-sdk-bookworm main\n"
    )
    text = aptsources.debian_sources("bookworm", "arm64", apt_dir=tmp_path)
    paragraphs = [p.splitlines() for p in text.strip().split("\n\n")]
    assert paragraphs == [
        [
            "Types: deb",
            "URIs: http://security.example/debian-security",
            "Suites: bookworm-security",
            "Components: main",
        ],
        [
            "Types: deb",
            "URIs: http://mirror.example/debian",
            "Suites: bookworm bookworm-updates",
            "Components: main",
            "Signed-By: /usr/share/keyrings/k.gpg",
        ],
    ]


def test_no_debian_source_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "sources.list").write_text("deb http://archive.example/ubuntu jammy main\n")
    monkeypatch.delenv("EDGEKIT_APT_SOURCES", raising=False)
    with pytest.raises(EnvironmentSetupError, match="no Debian apt source") as info:
        aptsources.debian_sources("bookworm", apt_dir=tmp_path)
    assert "EDGEKIT_APT_SOURCES" in (info.value.hint or "")


def test_key_changes_with_the_recipe(monkeypatch: pytest.MonkeyPatch) -> None:
    key = rootfs.rootfs_key()
    monkeypatch.setitem(rootfs.WHEELS, "numpy", "2.4.5")
    other = rootfs.rootfs_key()
    monkeypatch.setattr(rootfs, "RECIPE_VERSION", rootfs.RECIPE_VERSION + 1)
    assert len({key, other, rootfs.rootfs_key()}) == 3


@needs_tools
def test_warm_rootfs_is_verified_quickly() -> None:
    path = rootfs.ensure_rootfs()
    start = time.perf_counter()
    again = rootfs.ensure_rootfs()
    elapsed = time.perf_counter() - start
    assert again == path and elapsed < 1.5, elapsed
    status = rootfs.rootfs_status()
    assert status.valid and status.size_bytes > 150 << 20
    assert status.wheels == rootfs.WHEELS
    assert (path / "usr/bin/python3.11").is_file() and (path / ORT_SO).is_file()
    assert not (path / "dev").exists()
    assert not [p for p in path.rglob("*") if p.is_symlink() and os.readlink(p).startswith("/")]


BUILD = "import sys; from edge_kit.emulation.rootfs import ensure_rootfs; print(ensure_rootfs())"


@pytest.fixture(scope="module")
def cold_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cold-cache")


@needs_tools
def test_concurrent_cold_builds_build_once(cold_cache: Path) -> None:
    env = {**os.environ, "EDGEKIT_CACHE_DIR": str(cold_cache)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", BUILD], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=800) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err[-2000:] for _, err in outs]
    paths = {out.strip() for out, _ in outs}
    assert len(paths) == 1 and Path(paths.pop()).is_dir()
    builds = sum(err.count("building the arm64 root filesystem: started") for _, err in outs)
    assert builds == 1, [err for _, err in outs]
    assert not list((cold_cache / "rootfs").glob(".tmp-*"))


@needs_tools
def test_corruption_is_detected_and_rebuilt(cold_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGEKIT_CACHE_DIR", str(cold_cache))
    path = rootfs.ensure_rootfs()  # reuses the tree of the test above (or builds it)
    built_at = json.loads((path.parent / "manifest.json").read_text())["built_at"]
    size = (path / ORT_SO).stat().st_size
    with open(path / ORT_SO, "r+b") as handle:  # truncate a runtime library
        handle.truncate(size // 2)
    with open(path / "usr/bin/python3.11", "r+b") as handle:  # same size, one byte changed
        handle.seek(4096)
        byte = handle.read(1)
        handle.seek(4096)
        handle.write(bytes([byte[0] ^ 0xFF]))
    (path / LITERT_SO).unlink()
    problems = " | ".join(rootfs.rootfs_status().problems)
    assert f"{ORT_SO} has {size // 2} bytes instead of {size}" in problems
    assert "usr/bin/python3.11 was modified (checksum mismatch)" in problems
    assert f"{LITERT_SO} is missing" in problems
    assert rootfs.ensure_rootfs() == path
    status = rootfs.rootfs_status(deep=True)
    assert status.valid, status.problems
    assert (path / ORT_SO).stat().st_size == size
    assert json.loads((path.parent / "manifest.json").read_text())["built_at"] != built_at


@needs_tools
def test_extra_files_are_reported(cold_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGEKIT_CACHE_DIR", str(cold_cache))
    path = rootfs.ensure_rootfs()
    stray = path / f"{rootfs.GUEST_SITE}/sitecustomize.py"
    stray.write_text("import os\n")
    try:
        assert rootfs.rootfs_status().problems == (f"{rootfs.GUEST_SITE}/sitecustomize.py is not in the manifest",)
    finally:
        stray.unlink()
    assert rootfs.rootfs_status().valid
