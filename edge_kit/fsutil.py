"""Atomic file output: write to a temporary sibling, then rename over the destination.

A crash, Ctrl-C or SIGTERM (see `edge_kit.cli`) never leaves a partial artifact:
the temporary file is removed and the destination keeps its previous content.
Files that belong together (an artifact and its manifest) are renamed together under
a lock on their folder, so concurrent writers never leave a mixed pair behind.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from edge_kit.errors import OutputError, UsageError

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


def read_text(path: Path, what: str) -> str:
    """A user's UTF-8 text file; unreadable or not UTF-8 is a UsageError naming it."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{what} {path} is not UTF-8 text (byte {exc.start})", hint="save it as UTF-8") from None
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror}") from None


def check_writable(dest: Path, *, directory: bool = False) -> None:
    """Fail early (before any heavy work) when `dest` cannot be written."""
    dest = Path(dest)
    try:
        _check_writable(dest, directory)
    except OSError as exc:  # a name too long, a loop of links, a folder we may not search
        raise output_error(exc, dest) from None


def _check_writable(dest: Path, directory: bool) -> None:
    if dest.is_dir() and not directory:
        raise OutputError(f"output path {dest} is a directory", hint="pass the artifact's file path to -o/--output")
    if dest.exists() and not dest.is_dir() and directory:
        raise OutputError(f"output path {dest} is a file, expected a folder", hint="pass a folder path to -o/--output")
    probe = dest.parent
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise OutputError(f"cannot create {dest}: {probe} is not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise OutputError(
            f"output folder {probe} is not writable", hint="choose another -o/--output or fix its permissions"
        )
    if len(os.fsencode(dest.name)) > _name_max(probe):
        raise OSError(errno.ENAMETOOLONG, os.strerror(errno.ENAMETOOLONG), str(dest))


def _name_max(folder: Path) -> int:
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        return 255


def output_error(exc: OSError, dest: Path) -> OutputError:
    """The OutputError (exit 10) for an OSError met while writing `dest`."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return OutputError(
            f"no space left on the device while writing {dest}", hint="free some space or write elsewhere with -o"
        )
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return OutputError(
            f"permission denied writing {dest}", hint="choose another -o/--output or fix its permissions"
        )
    if exc.errno == errno.ENAMETOOLONG:
        return OutputError(
            f"file name too long: {str(dest)[:80]}...",
            hint="use a shorter -o path (at most 255 bytes per name, 4096 in all)",
        )
    return OutputError(f"cannot write {dest}: {exc.strerror or exc}")


def _umask() -> int:
    """The process umask (read without changing it where /proc allows)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _make_tmp(dest: Path, directory: bool, suffix: str | None) -> Path:
    """A new temporary sibling of `dest`: an empty file, or an empty folder."""
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        if directory:
            return Path(tempfile.mkdtemp(prefix=TMP_PREFIX, dir=dest.parent))
        fd, name = tempfile.mkstemp(
            prefix=TMP_PREFIX, suffix=suffix if suffix is not None else "".join(dest.suffixes[-1:]), dir=dest.parent
        )
        os.close(fd)
        return Path(name)
    except OSError as exc:
        raise output_error(exc, dest) from None


def _commit(tmp: Path, dest: Path) -> None:
    """Move a finished temporary onto `dest` (with the permissions a plain write would give)."""
    private = 0o700 if tmp.is_dir() else 0o600
    if (tmp.stat().st_mode & 0o777) == private:  # mkstemp/mkdtemp's mode, untouched by the caller
        tmp.chmod((0o777 if tmp.is_dir() else 0o666) & ~_umask())
    if tmp.is_dir() and dest.is_dir():
        old = dest.with_name(f"{TMP_PREFIX}old-{dest.name}-{os.getpid()}")
        os.replace(dest, old)
        os.replace(tmp, dest)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, dest)


def _discard(tmp: Path) -> None:
    if tmp.is_dir():
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_path(dest: Path, *, directory: bool = False, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to `dest`; on success move it onto `dest`.

    With `directory=True` the temporary path is an empty folder. `suffix` keeps
    the extension converters insist on (default: `dest`'s own suffix).
    """
    dest = Path(dest)
    check_writable(dest, directory=directory)
    tmp = _make_tmp(dest, directory, suffix)
    try:
        yield tmp
        _commit(tmp, dest)
    except OSError as exc:
        raise output_error(exc, dest) from None
    finally:
        _discard(tmp)


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """An exclusive flock on the folder itself (no lock file is left in it)."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


@contextlib.contextmanager
def atomic_files(*dests: Path) -> Iterator[list[Path]]:
    """Temporary siblings of several files in one folder, moved onto them together on success.

    The moves run under a lock on the folder, so when two processes publish the same
    files at once, the files on disk all come from one of them, never a mix. An OSError
    in the block (a full disk) becomes an OutputError naming the first destination.
    """
    paths = [Path(d) for d in dests]
    for dest in paths:
        check_writable(dest)
    tmps: list[Path] = []
    writing = paths[0]
    try:
        for dest in paths:
            tmps.append(_make_tmp(dest, False, None))
        yield tmps
        with _folder_lock(paths[0].parent):
            for tmp, writing in zip(tmps, paths):
                _commit(tmp, writing)
    except OSError as exc:
        raise output_error(exc, writing) from None
    finally:
        for tmp in tmps:
            _discard(tmp)


def write_bytes_atomic(dest: Path, data: bytes) -> None:
    """Write `data` to `dest` atomically."""
    with atomic_path(dest) as tmp:
        try:
            tmp.write_bytes(data)
        except OSError as exc:
            raise output_error(exc, dest) from None


def write_text_atomic(dest: Path, text: str) -> None:
    write_bytes_atomic(dest, text.encode("utf-8"))


def shipped_data(package: str, checkout_folder: str) -> Any:
    """The folder of data files shipped as `package` in the wheel (e.g. edge_kit.targets_data);
    from a source checkout that was never installed, the repository's own `checkout_folder`."""
    from importlib import resources

    try:
        return resources.files(package)
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[1] / checkout_folder
