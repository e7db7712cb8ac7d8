"""The profiling image: offline Dockerfile, content key, build context; cached for real in the engine."""

from __future__ import annotations

import shutil
import tarfile
import time
from pathlib import Path

from edge_kit.docker.image import GUEST_PYTHON, dockerfile, ensure_image, image_key, payload, write_context


def test_the_dockerfile_needs_no_registry_and_no_network():
    text = dockerfile(None, GUEST_PYTHON, {"org.edgekit.profile-image": "k"})
    assert text.splitlines()[1] == "FROM scratch" and "ADD edgekit.tar /" in text
    assert "# syntax" not in text and "RUN" not in text and "pip" not in text  # nothing to pull or download
    assert "QEMU_LD_PREFIX" in text and 'ENTRYPOINT ["/usr/bin/python3.11", "/opt/edgekit/driver.py"]' in text
    assert dockerfile("board:1", "/usr/local/bin/python3.11", {}).splitlines()[1] == "FROM board:1"


def test_the_key_follows_the_content(tmp_path: Path):
    files = payload()
    assert {"harness/edgekit_harness.py", "driver.py", "et/libedgekit_et.so", "qemu/qemu-aarch64"} <= set(files)
    assert "qemu/libinsncount.so" in files and any(name.startswith("qemu/lib/ld-") for name in files)
    key = image_key("rootfs:abc", files)
    assert image_key("rootfs:abc", dict(files)) == key  # same content, same image
    assert image_key("rootfs:abd", files) != key  # another root filesystem
    edited = tmp_path / "edgekit_harness.py"
    shutil.copy2(files["harness/edgekit_harness.py"], edited)
    edited.write_text(edited.read_text() + "\n# changed\n")
    assert image_key("rootfs:abc", {**files, "harness/edgekit_harness.py": edited}) != key  # a harness change


def test_the_context_holds_the_root_filesystem_and_opt_edgekit(tmp_path: Path):
    rootfs = tmp_path / "root"
    (rootfs / "usr/bin").mkdir(parents=True)
    (rootfs / "usr/bin/python3.11").write_bytes(b"\x7fELF")
    files = payload()
    write_context(tmp_path / "ctx", rootfs, files, dockerfile(None, GUEST_PYTHON, {}))
    with tarfile.open(tmp_path / "ctx/edgekit.tar") as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert "./usr/bin/python3.11" in members and "opt/edgekit/view" in members
    assert all(members[f"opt/edgekit/{name}"].uid == 0 for name in files)
    assert members["opt/edgekit/qemu/qemu-aarch64"].mode & 0o111  # still executable
    assert (tmp_path / "ctx/Dockerfile").read_text().startswith("# edgekit profiling image")


def test_a_second_call_reuses_the_cached_image(profiling_image):
    start = time.perf_counter()
    again = ensure_image()
    assert again.tag == profiling_image.tag and again.build_s is None
    assert time.perf_counter() - start < 30  # hashing the payload and one inspect, no build
    assert set(again.runtimes) == {"onnxruntime", "litert", "executorch"} and again.python == GUEST_PYTHON
