"""Per-target "views" of the shared root filesystem: symlinks plus the target's own CPU files.

QEMU 7.2's `-L PREFIX` translates each absolute path a guest opens by trying
`PREFIX/path` first (a host `access()`, which follows symlinks) and falling back
to the host's `path` when that does not exist. A view is therefore a folder of
symlinks to the rootfs's top-level entries (`usr -> <rootfs>/usr`, ...) plus real
`proc/cpuinfo` and `sys/devices/system/cpu/...` files rendered for the target:
a few kB per target instead of a 260 MB copy. Consequences (verified):

- guest `/proc/self/...`, `/dev/...`, `/tmp/...` and any path absent from the
  rootfs reach the HOST, so models, the harness and output files need no copying;
- the program given to QEMU is not translated: pass its host path (`<view>/usr/bin/python3.11`)
  and `-0 /usr/bin/python3.11` so the guest sees its usual `sys.executable`;
- listing `/proc` or `/sys` in the guest shows only the view's files.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from edge_kit.cache import cache_root
from edge_kit.emulation.cpuinfo import guest_files
from edge_kit.targets import Target

LINK_EXCLUDED = frozenset(("dev", "proc", "sys", "tmp", "run"))


def view_key(target: Target, rootfs: Path) -> str:
    """Content hash of the view (the files it renders and the tree it links to)."""
    digest = hashlib.sha256(str(rootfs.resolve()).encode())
    for rel, text in sorted(guest_files(target).items()):
        digest.update(rel.encode() + b"\0" + text.encode() + b"\0")
    return f"{target.name}-{digest.hexdigest()[:12]}"


def _populate(folder: Path, target: Target, rootfs: Path) -> None:
    for entry in sorted(os.listdir(rootfs)):
        if entry not in LINK_EXCLUDED:
            (folder / entry).symlink_to(rootfs.resolve() / entry)
    for rel, text in guest_files(target).items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def _intact(folder: Path, target: Target, rootfs: Path) -> bool:
    """A cheap check: the links resolve and the CPU files hold what they should."""
    try:
        links_ok = all(
            (folder / e).resolve() == rootfs.resolve() / e for e in os.listdir(rootfs) if e not in LINK_EXCLUDED
        )
        files_ok = (folder / "proc/cpuinfo").read_text(encoding="utf-8") == guest_files(target)["proc/cpuinfo"]
    except OSError:
        return False
    return links_ok and files_ok


def ensure_view(target: Target, rootfs: Path) -> Path:
    """The target's view folder over `rootfs` (made once, atomically; remade if damaged)."""
    base = cache_root() / "views"
    base.mkdir(parents=True, exist_ok=True)
    folder = base / view_key(target, rootfs)
    if folder.is_dir() and _intact(folder, target, rootfs):
        return folder
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{target.name}-", dir=base))
    try:
        _populate(tmp, target, rootfs)
        if folder.exists():
            old = Path(tempfile.mkdtemp(prefix=f".tmp-old-{target.name}-", dir=base))
            os.replace(folder, old / "v")
            shutil.rmtree(old, ignore_errors=True)
        try:
            os.replace(tmp, folder)
        except OSError:
            if not (folder.is_dir() and _intact(folder, target, rootfs)):
                raise  # a concurrent caller finished the same view first otherwise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder
