"""Atomic file output: write to a temporary sibling, then rename over the destination.

A crash, Ctrl-C or SIGTERM (see `edge_kit.signals`) never leaves a partial artifact:
the temporary file is removed and the destination keeps its previous content.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from edge_kit.errors import OutputError

TMP_PREFIX = ".edgekit-tmp-"


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file (or of every file under a directory, in sorted order)."""
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode() + b"\0")
        with open(file, "rb") as handle:
            while block := handle.read(chunk):
                digest.update(block)
    return digest.hexdigest()


def check_writable(dest: Path, *, directory: bool = False) -> None:
    """Fail early (before any heavy work) when `dest` cannot be written."""
    if dest.exists() and dest.is_dir() and not directory:
        raise OutputError(f"output path {dest} is a directory",
                          hint="pass the artifact's file path to -o/--output")
    if dest.exists() and not dest.is_dir() and directory:
        raise OutputError(f"output path {dest} is a file, expected a folder",
                          hint="pass a folder path to -o/--output")
    parent = dest.parent
    probe = parent
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise OutputError(f"cannot create {dest}: {probe} is not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise OutputError(f"output folder {probe} is not writable",
                          hint="choose another -o/--output or fix its permissions")


def _os_error(exc: OSError, dest: Path) -> OutputError:
    if exc.errno == errno.ENOSPC:
        return OutputError(f"no space left on the device while writing {dest}",
                           hint="free some space or write elsewhere with -o")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return OutputError(f"permission denied writing {dest}",
                           hint="choose another -o/--output or fix its permissions")
    if exc.errno == errno.ENAMETOOLONG:
        return OutputError(f"file name too long: {str(dest)[:80]}...", hint="use a shorter -o path")
    return OutputError(f"cannot write {dest}: {exc.strerror or exc}")


@contextlib.contextmanager
def atomic_path(dest: Path, *, directory: bool = False, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to `dest`; on success move it onto `dest`.

    With `directory=True` the temporary path is an empty folder. `suffix` keeps
    the extension converters insist on (default: `dest`'s own suffix).
    """
    dest = Path(dest)
    check_writable(dest, directory=directory)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        if directory:
            tmp = Path(tempfile.mkdtemp(prefix=TMP_PREFIX, dir=dest.parent))
        else:
            fd, name = tempfile.mkstemp(prefix=TMP_PREFIX, suffix=suffix if suffix is not None
                                        else "".join(dest.suffixes[-1:]), dir=dest.parent)
            os.close(fd)
            tmp = Path(name)
    except OSError as exc:
        raise _os_error(exc, dest) from None
    try:
        yield tmp
        if directory and dest.is_dir():
            old = dest.with_name(f"{TMP_PREFIX}old-{dest.name}-{os.getpid()}")
            os.replace(dest, old)
            os.replace(tmp, dest)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, dest)
    except OSError as exc:
        raise _os_error(exc, dest) from None
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)


def write_bytes_atomic(dest: Path, data: bytes) -> None:
    """Write `data` to `dest` atomically."""
    with atomic_path(dest) as tmp:
        try:
            tmp.write_bytes(data)
        except OSError as exc:
            raise _os_error(exc, dest) from None


def write_text_atomic(dest: Path, text: str) -> None:
    write_bytes_atomic(dest, text.encode("utf-8"))
