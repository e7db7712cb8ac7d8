"""Building and caching the QEMU plugin, and deriving Debian source lists (edgekit's own code).

Cache tests use a private EDGEKIT_CACHE_DIR and pass the QEMU header through
EDGEKIT_QEMU_PLUGIN_HEADER (taken from the session's real build), so they
compile and self-test for real without downloading anything.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edge_kit.cache import cache_root
from edge_kit.emulation import aptsources, debsrc
from edge_kit.emulation.plugin import PLUGIN_FILE, ensure_plugin, plugin_args, qemu_info, read_counts
from edge_kit.errors import EnvironmentSetupError, RuntimeFailure
from edge_kit.fsutil import sha256_file

needs_qemu = pytest.mark.skipif(
    shutil.which("qemu-aarch64") is None or shutil.which("gcc") is None,
    reason="needs qemu-aarch64 (apt-get install qemu-user) and gcc",
)


@pytest.fixture(scope="session")
def header() -> Path:
    """A qemu-plugin.h that matches the installed QEMU (fetched once by the real cache)."""
    if shutil.which("qemu-aarch64") is None or shutil.which("gcc") is None:
        pytest.skip("needs qemu-aarch64 and gcc")
    ensure_plugin()
    override = os.environ.get(debsrc.HEADER_ENV)
    found = [Path(override)] if override else sorted((cache_root() / "plugin" / "headers").glob("*/qemu-plugin.h"))
    assert found, "ensure_plugin() left no cached header"
    return found[0]


@pytest.fixture()
def private_cache(tmp_path: Path, header: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EDGEKIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv(debsrc.HEADER_ENV, str(header))
    return tmp_path / "cache"


@needs_qemu
def test_built_once_then_reused(private_cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = ensure_plugin()
    manifest = json.loads((first.parent / "manifest.json").read_text())
    assert first.name == PLUGIN_FILE and first.is_relative_to(private_cache / "plugin")
    assert manifest["sha256"] == sha256_file(first)
    assert "Building" in capsys.readouterr().err
    stamp = first.stat().st_mtime_ns
    assert ensure_plugin() == first and first.stat().st_mtime_ns == stamp
    assert "Building" not in capsys.readouterr().err
    assert not [p for p in first.parent.parent.iterdir() if p.name.startswith(".edgekit-tmp")]


@needs_qemu
@pytest.mark.parametrize("damage", ["append", "manifest", "delete"])
def test_corrupt_cache_is_rebuilt(damage: str, private_cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plugin = ensure_plugin()
    good = sha256_file(plugin)
    if damage == "append":
        with open(plugin, "ab") as handle:
            handle.write(b"garbage")
    elif damage == "manifest":
        (plugin.parent / "manifest.json").write_text("{")
    else:
        plugin.unlink()
    capsys.readouterr()
    assert ensure_plugin() == plugin and sha256_file(plugin) == good
    assert "corrupt; rebuilding" in capsys.readouterr().err


@needs_qemu
def test_concurrent_processes_build_once(private_cache: Path) -> None:
    code = "from edge_kit.emulation.plugin import ensure_plugin; print(ensure_plugin())"
    procs = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert len({out.strip() for out, _ in outs}) == 1
    assert sum("Building the QEMU" in err for _, err in outs) == 1


@needs_qemu
def test_missing_compiler_names_the_fix(private_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CC", "/nonexistent/gcc")
    with pytest.raises(EnvironmentSetupError, match="not found") as info:
        ensure_plugin()
    assert "apt-get install gcc" in info.value.one_line()


def test_missing_qemu_names_the_fix() -> None:
    with pytest.raises(EnvironmentSetupError) as info:
        ensure_plugin(qemu="qemu-aarch64-edgekit-missing")
    assert "apt-get install qemu-user" in info.value.one_line()


@needs_qemu
@pytest.mark.skipif(shutil.which("qemu-aarch64-static") is None, reason="needs qemu-user-static")
def test_qemu_without_plugin_support_fails_the_self_test(private_cache: Path) -> None:
    with pytest.raises(EnvironmentSetupError, match="self-test"):
        ensure_plugin(qemu="qemu-aarch64-static")
    assert not list((private_cache / "plugin").glob("7*"))


def test_plugin_args_escape_commas(tmp_path: Path) -> None:
    args = plugin_args(tmp_path / "a,b" / "p.so", Path("rel,out.json"))
    assert args[0] == "-plugin"
    assert args[1] == f"file={tmp_path}/a,,b/p.so,out={Path.cwd()}/rel,,out.json"


@pytest.mark.parametrize("content", ["", "{", '{"version": 2}', '{"version": 1, "classes": []}', "\xff\xfe"])
def test_read_counts_rejects_garbage(content: str, tmp_path: Path) -> None:
    path = tmp_path / "counts.json"
    path.write_bytes(content.encode("latin-1"))
    with pytest.raises(RuntimeFailure, match="unreadable"):
        read_counts(path)


def test_read_counts_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RuntimeFailure, match="no instruction counts") as info:
        read_counts(tmp_path / "none.json")
    assert "crashed" in info.value.one_line()


def test_deb_src_mirrors_the_host_entries() -> None:
    entries = aptsources.parse_one_line(
        "deb [signed-by=/k.gpg] http://m/debian bookworm main\ndeb-src http://m/debian bookworm main\n"
    )
    entries += aptsources.parse_deb822(
        "Types: deb\nURIs: http://s/debian-security\nSuites: bookworm-security\n"
        "Components: main contrib\n\nTypes: deb-src\nURIs: http://x\nSuites: y\n"
    )
    entries += aptsources.parse_one_line("deb http://flat/repo ./\n")
    assert debsrc.deb_src_sources(entries) == (
        "Types: deb-src\nURIs: http://m/debian\nSuites: bookworm\nComponents: main\n"
        "Signed-By: /k.gpg\n\n"
        "Types: deb-src\nURIs: http://s/debian-security\nSuites: bookworm-security\n"
        "Components: main contrib\n\n"
        "Types: deb-src\nURIs: http://flat/repo\nSuites: ./\n"
    )
    assert debsrc.deb_src_sources([]) == ""


def test_version_choice() -> None:
    assert debsrc.upstream_version("1:7.2+dfsg-7+deb12u18") == "7.2+dfsg"
    assert debsrc.upstream_version("7.2") == "7.2"
    offered = ["1:7.2+dfsg-7+deb12u20", "1:8.0-1"]
    assert debsrc.pick_version(offered + ["1:7.2+dfsg-7+deb12u18"], "1:7.2+dfsg-7+deb12u18") == "1:7.2+dfsg-7+deb12u18"
    assert debsrc.pick_version(offered, "1:7.2+dfsg-7+deb12u18") == "1:7.2+dfsg-7+deb12u20"
    assert debsrc.pick_version(["1:8.0-1"], "1:7.2+dfsg-7") is None


PATCH = """Subject: two files
--- a/README
+++ b/README
@@ -1 +1 @@
-old
+new
diff --git a/include/qemu/qemu-plugin.h b/include/qemu/qemu-plugin.h
--- a/include/qemu/qemu-plugin.h\t2022-12-14
+++ b/include/qemu/qemu-plugin.h\t2022-12-15
@@ -1,2 +1,2 @@
 #define A 1
-#define QEMU_PLUGIN_VERSION 1
+#define QEMU_PLUGIN_VERSION 2
"""


@pytest.mark.skipif(shutil.which("patch") is None, reason="needs patch")
def test_debian_patches_to_the_header_are_applied(tmp_path: Path) -> None:
    section = debsrc.header_sections(PATCH)
    assert "README" not in section and section.count("@@") == 2
    header = b"#define A 1\n#define QEMU_PLUGIN_VERSION 1\n"
    patched = debsrc.apply_patches(header, [(section, 1)], tmp_path)
    assert patched == b"#define A 1\n#define QEMU_PLUGIN_VERSION 2\n"
    assert debsrc.apply_patches(header, [], tmp_path) == header


@needs_qemu
@pytest.mark.skipif(
    shutil.which("apt-get") is None or shutil.which("dpkg-query") is None, reason="needs a Debian-family host"
)
def test_header_downloaded_from_debian_matches(header: Path, tmp_path: Path) -> None:
    """Network: fetch the header again with the private apt setup (~25 MB, a few seconds)."""
    info = qemu_info()
    assert info.source_package and info.source_version
    data = debsrc.fetch_plugin_header(info.source_package, info.source_version, tmp_path)
    assert data == header.read_bytes()
    assert b"QEMU_PLUGIN_VERSION" in data
