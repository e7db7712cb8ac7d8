"""Checksum manifests for cached folder trees, with a verification cheap enough for every use.

`write_manifest` records the sha256 and size of every regular file and the target of
every symlink. `verify_tree` compares a tree with it: a missing, resized or extra file
or a changed link is a problem at once; a file whose (size, mtime, ctime, inode) no
longer matches the stamp taken at the last full check is re-hashed, so any write to a
file (which always moves its ctime) is caught by checksum while a warm check of an
untouched tree only stats its files (~60 ms for the 4,000 files of a root filesystem).
`deep=True` re-hashes everything (catches silent media corruption too).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from edge_kit.errors import EdgeKitError
from edge_kit.fsutil import write_text_atomic

IGNORED_SUFFIXES = (".pyc",)  # bytecode a guest may write next to sources is not corruption
MAX_PROBLEMS = 5


def _walk(root: Path) -> Iterator[tuple[str, os.DirEntry[str]]]:
    """(relative path, entry) for every regular file and symlink under `root`."""
    stack = [root]
    while stack:
        folder = stack.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_symlink() or entry.is_file(follow_symlinks=False):
                    yield os.path.relpath(entry.path, root), entry
                elif entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))


def _sha256(path: str) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _stamp(st: os.stat_result) -> list[int]:
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def write_manifest(root: Path, manifest: Path, stamp: Path, meta: dict[str, Any]) -> dict[str, Any]:
    """Hash every file under `root`; write the manifest (with `meta`) and a stat stamp."""
    files: dict[str, list[Any]] = {}
    links: dict[str, str] = {}
    stamps: dict[str, list[int]] = {}
    for rel, entry in _walk(root):
        if entry.is_symlink():
            links[rel] = os.readlink(entry.path)
            continue
        st = entry.stat(follow_symlinks=False)
        files[rel] = [st.st_size, _sha256(entry.path)]
        stamps[rel] = _stamp(st)
    data = {
        **meta,
        "size_bytes": sum(size for size, _ in files.values()),
        "file_count": len(files),
        "files": files,
        "links": links,
    }
    write_text_atomic(manifest, json.dumps(data, sort_keys=True))
    write_text_atomic(stamp, json.dumps(stamps, sort_keys=True))
    return data


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _check_files(root: Path, files: dict[str, list[Any]], stamps: dict[str, Any], deep: bool) -> tuple[list[str], bool]:
    """Problems with the manifest's files, and whether the stamp needs refreshing."""
    problems: list[str] = []
    refreshed = False
    for rel, (size, digest) in files.items():
        path = os.path.join(root, rel)
        try:
            st = os.stat(path, follow_symlinks=False)
        except OSError:
            problems.append(f"{rel} is missing")
            continue
        if st.st_size != size:
            problems.append(f"{rel} has {st.st_size} bytes instead of {size}")
        elif deep or stamps.get(rel) != _stamp(st):
            if _sha256(path) != digest:
                problems.append(f"{rel} was modified (checksum mismatch)")
            else:
                stamps[rel], refreshed = _stamp(st), True
        if len(problems) >= MAX_PROBLEMS:
            break
    return problems, refreshed


def verify_tree(root: Path, manifest: Path, stamp: Path, *, deep: bool = False) -> list[str]:
    """Problems found in `root` against its manifest (empty list: the tree is intact)."""
    data = read_json(manifest)
    if data is None or "files" not in data:
        return [f"no readable manifest at {manifest}"]
    if not root.is_dir():
        return [f"{root} is missing"]
    files: dict[str, list[Any]] = data["files"]
    links: dict[str, str] = data.get("links", {})
    stamps = read_json(stamp) or {}
    problems, refreshed = _check_files(root, files, stamps, deep)
    for rel, entry in _walk(root):
        if len(problems) >= MAX_PROBLEMS:
            break
        if entry.is_symlink():
            if links.get(rel) != os.readlink(entry.path):
                problems.append(f"{rel} is a link that the manifest does not list as such")
        elif rel not in files and not rel.endswith(IGNORED_SUFFIXES):
            problems.append(f"{rel} is not in the manifest")
    problems += [f"link {rel} is missing" for rel in links if not os.path.islink(os.path.join(root, rel))][
        :MAX_PROBLEMS
    ]
    if refreshed and not problems:
        try:
            write_text_atomic(stamp, json.dumps(stamps, sort_keys=True))
        except EdgeKitError:
            pass  # a read-only cache: the next check re-hashes the same files again
    return problems[:MAX_PROBLEMS]
