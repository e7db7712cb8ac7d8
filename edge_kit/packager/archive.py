"""Deterministic zip and tar.gz writing: same entries in, same bytes out.

Entries are sorted by name, carry a fixed timestamp (1980-01-01, the zip epoch),
fixed owners and modes, and are checked to be relative paths that stay inside the
archive root. Callers write the bytes with `fsutil.write_bytes_atomic`.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath

from edge_kit.errors import EdgeKitError

FIXED_DATE = (1980, 1, 1, 0, 0, 0)
FIXED_EPOCH = 315532800  # 1980-01-01T00:00:00Z, the same instant for tar members
SUMS_NAME = "SHA256SUMS"


@dataclass(frozen=True)
class Entry:
    """One file of an archive: its path inside, its bytes, executable or not."""

    name: str
    data: bytes
    executable: bool = False
    compress: bool = True

    @property
    def mode(self) -> int:
        return 0o755 if self.executable else 0o644


def check_name(name: str) -> str:
    """`name` if it is a clean relative POSIX path inside the archive root; else an error."""
    path = PurePosixPath(name)
    if (
        not name
        or name.startswith("/")
        or "\\" in name
        or path.is_absolute()
        or any(part in ("", ".", "..") for part in name.split("/"))
    ):
        raise EdgeKitError(f"internal: unsafe archive entry name {name!r}")
    return name


def _sorted(entries: Iterable[Entry], last: str | None = None) -> list[Entry]:
    """By name; entries under the prefix `last` go at the end (a wheel's .dist-info/)."""
    ordered = sorted(entries, key=lambda e: (last is not None and e.name.startswith(last), e.name))
    names = [check_name(e.name) for e in ordered]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise EdgeKitError(f"internal: duplicate archive entries {duplicates}")
    return ordered


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sums_entry(entries: Iterable[Entry], prefix: str = "") -> Entry:
    """`SHA256SUMS` (coreutils format) of `entries`, paths relative to `prefix`."""
    lines = []
    for entry in _sorted(entries):
        if not entry.name.startswith(prefix):
            raise EdgeKitError(f"internal: {entry.name} is outside {prefix!r}")
        lines.append(f"{sha256_hex(entry.data)}  {entry.name[len(prefix) :]}\n")
    return Entry(prefix + SUMS_NAME, "".join(lines).encode())


def zip_bytes(entries: Iterable[Entry], last: str | None = None) -> bytes:
    """A zip archive of `entries` with fixed timestamps, order and permissions."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for entry in _sorted(entries, last):
            info = zipfile.ZipInfo(entry.name, date_time=FIXED_DATE)
            info.create_system = 3  # unix, so external_attr carries the mode
            info.external_attr = (0o100000 | entry.mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED if entry.compress else zipfile.ZIP_STORED
            archive.writestr(info, entry.data, compresslevel=9 if entry.compress else None)
    return buffer.getvalue()


def tar_gz_bytes(entries: Iterable[Entry]) -> bytes:
    """A gzip-compressed POSIX tar of `entries`: fixed mtime, root:root, no gzip name/time."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for entry in _sorted(entries):
            info = tarfile.TarInfo(entry.name)
            info.size, info.mode, info.mtime = len(entry.data), entry.mode, FIXED_EPOCH
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            archive.addfile(info, io.BytesIO(entry.data))
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=9) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()
