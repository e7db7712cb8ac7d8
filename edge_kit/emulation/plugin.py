"""Build, cache and use edgekit's instruction-counting QEMU TCG plugin (`insncount.c`).

`ensure_plugin()` compiles the plugin once per QEMU version and plugin source,
under `cache_root()/plugin/<key>`: built under a file lock into a temporary
folder that is renamed into place, self-tested on a tiny arm64 program, and
checked against its recorded sha256 before every use (rebuilt when corrupt).
The QEMU plugin header comes from Debian's qemu source package (see `debsrc`),
cached per source version; `$EDGEKIT_QEMU_PLUGIN_HEADER` overrides it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shlex
import shutil
import struct
import subprocess
import tempfile
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from filelock import FileLock, Timeout

from edge_kit import progress
from edge_kit.cache import cache_root
from edge_kit.emulation import debsrc
from edge_kit.emulation.insncounts import (
    CLASSES,
    MARKER_BEGIN,
    MARKER_END,
    MARKER_FD,
    MARKER_OPERATOR_BASE,
    InsnCounts,
    read_counts,
)
from edge_kit.errors import EnvironmentSetupError, RuntimeFailure
from edge_kit.fsutil import atomic_path, sha256_file, write_bytes_atomic
from edge_kit.proc import run as run_child

__all__ = [
    "CLASSES",
    "MARKER_BEGIN",
    "MARKER_END",
    "MARKER_FD",
    "MARKER_OPERATOR_BASE",
    "InsnCounts",
    "QemuInfo",
    "ensure_plugin",
    "plugin_args",
    "qemu_info",
    "read_counts",
]

PLUGIN_FILE = "libinsncount.so"
SOURCE_FILE = "insncount.c"
QEMU_BINARY = "qemu-aarch64"
CFLAGS = ("-O2", "-shared", "-fPIC", "-std=gnu11", "-pthread", "-Wall")
_RECIPE = 1  # bump when the build or the self-test changes
_LOCK_TIMEOUT_S = 900
_QEMU_HINT = (
    "install the dynamic QEMU user emulator: apt-get install qemu-user (qemu-aarch64-static cannot load plugins)"
)


@dataclass(frozen=True)
class QemuInfo:
    """Which QEMU will load the plugin, and the Debian source it was built from."""

    binary: Path
    version: str  # e.g. "7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)"
    source_package: str | None  # e.g. "qemu" (None when no dpkg owns the binary)
    source_version: str | None  # e.g. "1:7.2+dfsg-7+deb12u18"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-") or "unknown"


def _query(cmd: list[str]) -> str | None:
    if shutil.which(cmd[0]) is None:
        return None
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    return done.stdout.strip() if done.returncode == 0 else None


def _debian_source(binary: Path) -> tuple[str | None, str | None]:
    """(source package, source version) of the Debian package that owns `binary`."""
    owner = None
    for candidate in dict.fromkeys([str(binary), str(binary.resolve())]):
        owner = _query(["dpkg-query", "-S", candidate])
        if owner:
            break
    if not owner:
        return None, None
    package = owner.split(":", 1)[0].split(",")[0].strip()
    fields = _query(["dpkg-query", "-W", "-f=${source:Package}\t${source:Version}", package])
    if not fields or "\t" not in fields:
        return None, None
    name, version = fields.split("\t", 1)
    return name, version


def qemu_info(qemu: str | Path | None = None) -> QemuInfo:
    """Locate `qemu-aarch64` (or `qemu`) and identify its version and source package."""
    found = shutil.which(str(qemu or QEMU_BINARY))
    if found is None:
        raise EnvironmentSetupError(f"{qemu or QEMU_BINARY} not found", hint=_QEMU_HINT)
    stat = Path(found).stat()
    return _identify(Path(found), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=8)
def _identify(binary: Path, mtime_ns: int, size: int) -> QemuInfo:
    """qemu_info() for one binary, cached while the file is unchanged."""
    try:
        first = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, timeout=60, check=False
        ).stdout.splitlines()
    except OSError as exc:
        raise EnvironmentSetupError(f"cannot run {binary}: {exc}", hint=_QEMU_HINT) from None
    match = re.search(r"version\s+(.+)$", first[0]) if first else None
    if match is None:
        raise EnvironmentSetupError(f"{binary} --version printed no QEMU version", hint=_QEMU_HINT)
    package, version = _debian_source(binary)
    return QemuInfo(binary, match.group(1).strip(), package, version)


def _compiler() -> list[str]:
    cc = shlex.split(os.environ.get("CC") or "gcc")
    if not cc or shutil.which(cc[0]) is None:
        raise EnvironmentSetupError(
            f"C compiler '{cc[0] if cc else 'gcc'}' not found; edgekit "
            "builds its QEMU instruction-counting plugin with it once",
            hint="install it: apt-get install gcc",
        )
    return cc


def _plugin_source() -> bytes:
    return resources.files("edge_kit.emulation").joinpath(SOURCE_FILE).read_bytes()


def _header_override() -> bytes | None:
    value = os.environ.get(debsrc.HEADER_ENV)
    if not value:
        return None
    path = Path(value)
    if not path.is_file():
        raise EnvironmentSetupError(
            f"{debsrc.HEADER_ENV}={value} is not a file", hint="point it at QEMU's include/qemu/qemu-plugin.h"
        )
    return path.read_bytes()


def plugin_key(info: QemuInfo, source: bytes, header_override: bytes | None = None) -> str:
    """Cache key: QEMU version + hash of the plugin source, build recipe and header override."""
    digest = hashlib.sha256(f"{_RECIPE}|{' '.join(CFLAGS)}|".encode())
    digest.update(source)
    digest.update(header_override or b"")
    return f"{_slug(info.version)}-{digest.hexdigest()[:16]}"


def _verified(folder: Path, *, warn: bool = True) -> bool:
    """True when `folder` holds a plugin whose sha256 matches its manifest."""
    plugin, manifest = folder / PLUGIN_FILE, folder / "manifest.json"
    if not folder.exists():
        return False
    try:
        expected = json.loads(manifest.read_text(encoding="utf-8"))["sha256"]
        if plugin.is_file() and sha256_file(plugin) == expected:
            return True
    except (OSError, ValueError, KeyError, TypeError):
        pass
    if warn:
        progress.warn(f"cached QEMU plugin in {folder} is incomplete or corrupt; rebuilding it")
    return False


def _cached_header(root: Path, info: QemuInfo) -> bytes:
    """qemu-plugin.h for `info`'s Debian source version (downloaded once, then cached)."""
    if not info.source_package or not info.source_version:
        raise EnvironmentSetupError(
            f"cannot tell which QEMU source {info.binary} was built from (no Debian package owns it)",
            hint=debsrc._hint(info.version),
        )
    folder = root / "headers" / _slug(f"{info.source_package}-{info.source_version}")
    header, record = folder / "qemu-plugin.h", folder / "qemu-plugin.h.sha256"
    if header.is_file() and record.is_file() and sha256_file(header) == record.read_text().strip():
        return header.read_bytes()
    with (
        progress.step(f"Fetching qemu-plugin.h from the Debian source of {info.source_package} {info.source_version}"),
        tempfile.TemporaryDirectory(prefix=".fetch-", dir=root) as work,
    ):
        data = debsrc.fetch_plugin_header(info.source_package, info.source_version, Path(work))
    write_bytes_atomic(header, data)
    write_bytes_atomic(record, hashlib.sha256(data).hexdigest().encode())
    return data


def _compile(cc: list[str], source: bytes, header: bytes, out: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="edgekit-plugin-") as work:
        src, inc = Path(work) / SOURCE_FILE, Path(work) / "include"
        inc.mkdir()
        src.write_bytes(source)
        (inc / "qemu-plugin.h").write_bytes(header)
        cmd = [*cc, *CFLAGS, f"-I{inc}", str(src), "-o", str(out)]
        done = run_child(cmd, timeout=300)
    if done.returncode != 0:
        errors = [ln for ln in done.stderr.splitlines() if "error" in ln] or [done.stderr.strip()]
        raise EnvironmentSetupError(
            f"compiling the QEMU plugin failed: {errors[0][:300]}", hint=f"command: {shlex.join(cmd)}"
        )


def _build(folder: Path, info: QemuInfo, source: bytes, header: bytes) -> None:
    """Compile, self-test and atomically install the plugin into `folder`."""
    cc = _compiler()
    start = time.perf_counter()
    with progress.step("Building the QEMU instruction-counting plugin"), atomic_path(folder, directory=True) as tmp:
        plugin = tmp / PLUGIN_FILE
        _compile(cc, source, header, plugin)
        build_s = time.perf_counter() - start
        self_test(plugin, info.binary)
        manifest = {
            "plugin": PLUGIN_FILE,
            "sha256": sha256_file(plugin),
            "qemu_binary": str(info.binary),
            "qemu_version": info.version,
            "qemu_source": f"{info.source_package} {info.source_version}",
            "source_sha256": hashlib.sha256(source).hexdigest(),
            "header_sha256": hashlib.sha256(header).hexdigest(),
            "compile": [*cc, *CFLAGS],
            "compile_seconds": round(build_s, 3),
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


def ensure_plugin(*, qemu: str | Path | None = None) -> Path:
    """Path of the built, verified instruction-counting plugin for `qemu` (default qemu-aarch64)."""
    info = qemu_info(qemu)
    source, override = _plugin_source(), _header_override()
    root = cache_root() / "plugin"
    folder = root / plugin_key(info, source, override)
    if _verified(folder):
        return folder / PLUGIN_FILE
    root.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(str(root / ".build.lock"), timeout=_LOCK_TIMEOUT_S):
            if _verified(folder, warn=False):
                return folder / PLUGIN_FILE
            header = override if override is not None else _cached_header(root, info)
            _build(folder, info, source, header)
    except Timeout:
        raise EnvironmentSetupError(
            "timed out waiting for another edgekit process to build the QEMU plugin",
            hint=f"if none is running, delete {root / '.build.lock'}",
        ) from None
    return folder / PLUGIN_FILE


def _qemu_opt(value: str | Path) -> str:
    """A QemuOpts value: commas are doubled."""
    return os.path.abspath(value).replace(",", ",,")


def plugin_args(plugin_path: Path, out_path: Path) -> list[str]:
    """qemu-aarch64 arguments that load the plugin and write counts to `out_path`.

    QEMU 7.2 syntax: `-plugin file=PATH,out=PATH` (plugin arguments are plain
    key=value pairs; the old `arg=` form is deprecated).
    """
    return ["-plugin", f"file={_qemu_opt(plugin_path)},out={_qemu_opt(out_path)}"]


def _selftest_elf() -> tuple[bytes, dict[str, int], dict[str, int]]:
    """A minimal static aarch64 ELF: marker 1, two ADDs, marker 2, exit(0); with the
    counts (inside, outside) the plugin must report for it."""

    def movz(reg: int, imm: int) -> int:
        return 0xD2800000 | imm << 5 | reg

    def marker(code: int) -> list[int]:
        return [movz(0, MARKER_FD), movz(1, code), movz(2, 0), movz(8, 62), 0xD4000001]

    words = [*marker(MARKER_BEGIN), 0x91000463, 0x91000463, *marker(MARKER_END), movz(0, 0), movz(8, 93), 0xD4000001]
    code = struct.pack(f"<{len(words)}I", *words)
    base, entry = 0x400000, 0x400000 + 64 + 56
    ehdr = struct.pack(
        "<4s5B7xHHIQQQIHHHHHH", b"\x7fELF", 2, 1, 1, 0, 0, 2, 183, 1, entry, 64, 0, 0, 64, 56, 1, 0, 0, 0
    )
    size = 64 + 56 + len(code)
    phdr = struct.pack("<IIQQQQQQ", 1, 5, 0, base, base, size, size, 0x1000)
    return ehdr + phdr + code, {"scalar_int": 7}, {"scalar_int": 8}


def self_test(plugin: Path, qemu: Path) -> None:
    """Run the plugin on a known program; raise unless its counts are exact."""
    elf, inside, outside = _selftest_elf()
    with tempfile.TemporaryDirectory(prefix="edgekit-plugin-test-") as work:
        program, out = Path(work) / "selftest", Path(work) / "counts.json"
        program.write_bytes(elf)
        program.chmod(0o755)
        done = subprocess.run(
            [str(qemu), *plugin_args(plugin, out), str(program)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        try:
            counts = read_counts(out)
        except RuntimeFailure:
            counts = None
    want_in = {c: inside.get(c, 0) for c in CLASSES}
    want_out = {c: outside.get(c, 0) for c in CLASSES}
    if (
        done.returncode != 0
        or counts is None
        or counts.regions != 1
        or dict(counts.inside) != want_in
        or dict(counts.outside) != want_out
    ):
        detail = done.stderr.strip().splitlines()[-1:] or [f"exit status {done.returncode}"]
        raise EnvironmentSetupError(
            f"the QEMU plugin failed its self-test: {detail[0][:300]}",
            hint=f"{qemu} may not support TCG plugins; {_QEMU_HINT}",
        )


def cached_plugin() -> Path | None:
    """The verified cached plugin for the installed qemu-aarch64, or None (never builds)."""
    folder = cache_root() / "plugin" / plugin_key(qemu_info(), _plugin_source(), _header_override())
    return folder / PLUGIN_FILE if _verified(folder, warn=False) else None
