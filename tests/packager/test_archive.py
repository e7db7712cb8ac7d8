"""Deterministic archives, safe entry names, SHA256SUMS and the hand-written wheel."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from edge_kit.errors import EdgeKitError
from edge_kit.packager.archive import Entry, check_name, sums_entry, tar_gz_bytes, zip_bytes
from edge_kit.packager.verify import unpack_wheel
from edge_kit.packager.wheel import WheelSpec, build_wheel

ENTRIES = [
    Entry("b/run.sh", b"#!/bin/sh\necho hi\n", executable=True),
    Entry("a.txt", b"alpha"),
    Entry("b/model.bin", bytes(range(256)) * 8, compress=False),
]


def test_zip_and_tar_bytes_do_not_depend_on_entry_order_or_time():
    assert zip_bytes(ENTRIES) == zip_bytes(list(reversed(ENTRIES)))
    assert tar_gz_bytes(ENTRIES) == tar_gz_bytes(list(reversed(ENTRIES)))
    with zipfile.ZipFile(io.BytesIO(zip_bytes(ENTRIES))) as archive:
        infos = archive.infolist()
        assert [i.filename for i in infos] == ["a.txt", "b/model.bin", "b/run.sh"]
        assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
        assert [(i.external_attr >> 16) & 0o777 for i in infos] == [0o644, 0o644, 0o755]
        assert infos[1].compress_type == zipfile.ZIP_STORED and infos[0].compress_type == zipfile.ZIP_DEFLATED
    with tarfile.open(fileobj=io.BytesIO(tar_gz_bytes(ENTRIES)), mode="r:gz") as archive:
        members = archive.getmembers()
        assert [(m.name, m.mode, m.mtime, m.uid, m.uname) for m in members][2] == (
            "b/run.sh",
            0o755,
            315532800,
            0,
            "root",
        )
        assert archive.extractfile("a.txt").read() == b"alpha"


@pytest.mark.parametrize("name", ["/etc/passwd", "../escape", "a/../../b", "a\\b", "", "a//b", "./a", "a/"])
def test_unsafe_entry_names_are_refused(name: str):
    with pytest.raises(EdgeKitError):
        check_name(name)
    with pytest.raises(EdgeKitError):
        zip_bytes([Entry(name, b"x")])


def test_duplicate_entries_are_refused():
    with pytest.raises(EdgeKitError, match="duplicate"):
        zip_bytes([Entry("a", b"1"), Entry("a", b"2")])


def test_sha256sums_are_coreutils_format_relative_to_the_bundle_root():
    files = [Entry("root/x.txt", b"x"), Entry("root/sub/y", b"y")]
    text = sums_entry(files, prefix="root/")
    assert text.name == "root/SHA256SUMS"
    assert text.data.decode() == (
        f"{hashlib.sha256(b'y').hexdigest()}  sub/y\n{hashlib.sha256(b'x').hexdigest()}  x.txt\n"
    )


def _wheel(tmp_path: Path) -> Path:
    spec = WheelSpec(
        distribution="demo-model",
        version="1.2.3",
        summary="demo",
        requires=("numpy>=1.23",),
        console_script="demo-model = demo_model.__main__:main",
    )
    files = [
        Entry("demo_model/__init__.py", b"VALUE = 42\n"),
        Entry("demo_model/__main__.py", b"def main():\n    return 0\n"),
        Entry("demo_model/data.json", b"{}\n"),
    ]
    path = tmp_path / spec.filename
    path.write_bytes(build_wheel(spec, files, description="# demo\n"))
    assert build_wheel(spec, list(reversed(files)), description="# demo\n") == path.read_bytes()
    return path


def test_the_wheel_follows_the_spec_and_pip_installs_it_offline(tmp_path: Path):
    wheel = _wheel(tmp_path)
    assert wheel.name == "demo_model-1.2.3-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        info = "demo_model-1.2.3.dist-info/"
        assert names[3:] == [f"{info}{n}" for n in ("METADATA", "RECORD", "WHEEL", "entry_points.txt")]
        wheel_file = archive.read("demo_model-1.2.3.dist-info/WHEEL").decode()
        assert "Root-Is-Purelib: true" in wheel_file and "Tag: py3-none-any" in wheel_file
    unpack_wheel(wheel.read_bytes(), tmp_path / "unpacked")  # checks every RECORD hash
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
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    check = subprocess.run(
        [sys.executable, "-c", "import demo_model; print(demo_model.VALUE)"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(tmp_path / "site")},
    )
    assert check.stdout.strip() == "42", check.stderr
    assert (tmp_path / "site" / "bin" / "demo-model").is_file()


def test_a_tampered_wheel_is_refused_when_unpacked(tmp_path: Path):
    wheel = _wheel(tmp_path)
    members = {}
    with zipfile.ZipFile(wheel) as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    members["demo_model/__init__.py"] = b"VALUE = 43\n"
    forged = zip_bytes([Entry(n, d) for n, d in members.items()])
    with pytest.raises(EdgeKitError, match="RECORD"):
        unpack_wheel(forged, tmp_path / "forged")
