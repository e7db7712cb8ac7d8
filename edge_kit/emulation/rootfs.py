"""The arm64 Debian root filesystem that emulated targets run in, built once and cached.

Recipe: `mmdebstrap --variant=extract` of Debian bookworm's python3.11 (from the
host's own apt sources, see `aptsources`), then the real aarch64 wheels of
onnxruntime, ai-edge-litert and numpy (pinned below, with their dependencies) into
`/usr/local/lib/python3.11/dist-packages`, absolute symlinks made relative (so QEMU's
`-L` prefix resolves them inside the tree) and all Python sources precompiled with
unchecked-hash .pyc files (so the read-only tree imports fast and never changes).

Layout under `cache_root()/rootfs/`:
`<key>/root/` the filesystem, `<key>/manifest.json` (sha256 of every file),
`<key>/stamp.json` (stat stamps of the last full check), `<key>.lock`.
`key` hashes the OS, Python, Debian packages, wheel pins and `RECIPE_VERSION`.
Concurrent callers serialise on the lock; the build goes to a temporary folder that
is renamed into place, so a reader never sees half a tree.
"""

from __future__ import annotations

import compileall
import hashlib
import json
import os
import py_compile
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge_kit.cache import cache_root
from edge_kit.emulation import aptsources
from edge_kit.emulation.treecheck import read_json, verify_tree, write_manifest
from edge_kit.errors import EnvironmentSetupError
from edge_kit.proc import run as run_child
from edge_kit.progress import Bar, log, warn

RECIPE_VERSION = 1  # bump when the build steps change: every cached rootfs is rebuilt
DEBIAN_RELEASE = "bookworm"
DEBIAN_ARCH = "arm64"
GUEST_PYTHON = "/usr/bin/python3.11"
GUEST_SITE = "usr/local/lib/python3.11/dist-packages"
DEB_PACKAGES = ("python3.11", "libpython3.11", "libstdc++6", "libgcc-s1", "zlib1g", "libffi8", "libssl3", "libexpat1")
# The runtimes and their complete dependency closure, pinned (installed with --no-deps).
# numpy 2.4.6 is the host's numpy too: its aarch64 cp311 wheel suits both runtimes.
WHEELS = {
    "onnxruntime": "1.31.1",
    "ai-edge-litert": "2.3.0",
    "numpy": "2.4.6",
    "protobuf": "7.36.2",
    "flatbuffers": "25.12.19",
    "ml-dtypes": "0.6.0",
    "packaging": "26.4",
    "typing-extensions": "4.16.0",
    "backports-strenum": "1.2.8",
    "tqdm": "4.70.1",
}
# Wheel tags bookworm's glibc 2.36 accepts (pip takes --platform tags literally).
WHEEL_PLATFORMS = tuple(f"manylinux_2_{v}_aarch64" for v in range(36, 16, -1)) + (
    "manylinux2014_aarch64",
    "linux_aarch64",
)
NOT_COPIED = ("dev", "proc", "sys", "run")  # the host's are used (device nodes stay out of caches)
MMDEBSTRAP_TIMEOUT_S = 900
PIP_TIMEOUT_S = 900
LOCK_TIMEOUT_S = 1800
MIN_FREE_BYTES = 1 << 30


@dataclass(frozen=True)
class RootfsStatus:
    """What `rootfs_status()` found: built or not, intact or not, and why."""

    key: str
    path: Path
    built: bool
    valid: bool
    problems: tuple[str, ...] = ()
    size_bytes: int = 0
    build_seconds: float = 0.0
    wheels: dict[str, str] = field(default_factory=dict)


def recipe() -> dict[str, Any]:
    """Everything that determines the tree's content (hashed into its cache key)."""
    return {
        "os": f"debian-{DEBIAN_RELEASE}",
        "arch": DEBIAN_ARCH,
        "python": GUEST_PYTHON,
        "debs": list(DEB_PACKAGES),
        "wheels": dict(WHEELS),
        "site": GUEST_SITE,
        "recipe_version": RECIPE_VERSION,
    }


def rootfs_key() -> str:
    blob = json.dumps(recipe(), sort_keys=True).encode()
    return f"{DEBIAN_RELEASE}-py311-{hashlib.sha256(blob).hexdigest()[:16]}"


def _home(key: str | None = None) -> Path:
    return cache_root() / "rootfs" / (key or rootfs_key())


def rootfs_dir() -> Path:
    """Where the (possibly not yet built) root filesystem lives."""
    return _home() / "root"


def rootfs_status(*, deep: bool = False) -> RootfsStatus:
    """Whether the cached tree exists and matches its manifest (`deep`: re-hash all)."""
    key, home = rootfs_key(), _home()
    manifest = read_json(home / "manifest.json")
    if manifest is None:
        return RootfsStatus(key, home / "root", built=False, valid=False, problems=("not built yet",))
    problems = verify_tree(home / "root", home / "manifest.json", home / "stamp.json", deep=deep)
    return RootfsStatus(
        key,
        home / "root",
        built=True,
        valid=not problems,
        problems=tuple(problems),
        size_bytes=int(manifest.get("size_bytes", 0)),
        build_seconds=float(manifest.get("build_seconds", 0.0)),
        wheels=dict(manifest.get("recipe", {}).get("wheels", {})),
    )


def _lock(key: str) -> Any:
    from filelock import FileLock

    return FileLock(str(cache_root() / "rootfs" / f"{key}.lock"), timeout=LOCK_TIMEOUT_S)


def ensure_rootfs(*, rebuild: bool = False) -> Path:
    """The root filesystem's folder, built (or rebuilt when corrupt) on first use.

    A warm call stats the tree against its manifest (well under a second). Concurrent
    callers wait on a file lock while one of them builds, then reuse its tree.
    """
    if not rebuild:
        status = rootfs_status()
        if status.valid:
            return status.path
    key = rootfs_key()
    (cache_root() / "rootfs").mkdir(parents=True, exist_ok=True)
    from filelock import Timeout

    try:
        with _lock(key):
            status = rootfs_status()
            if status.valid and not rebuild:
                return status.path
            if status.built:
                warn(f"the cached arm64 root filesystem is damaged ({status.problems[0]}); rebuilding it")
            _build(key)
    except Timeout:
        raise EnvironmentSetupError(
            "timed out waiting for another edgekit to build the arm64 root filesystem",
            hint=f"remove {_home(key)}.lock if no other edgekit is running",
        ) from None
    return rootfs_dir()


def _run(cmd: list[str], timeout: float, what: str, fix: str, scratch: Path) -> None:
    """Run a build step; a failure raises EnvironmentSetupError with its last output line.

    The step's temporary files go under `scratch` (removed with it, even when the step is
    killed: pip and mmdebstrap leave theirs behind on SIGTERM)."""
    tmp = scratch / "tmp"
    tmp.mkdir(exist_ok=True)
    try:
        proc = run_child(cmd, timeout=timeout, env={**os.environ, "TMPDIR": str(tmp)})
    except FileNotFoundError:
        raise EnvironmentSetupError(f"{what}: {cmd[0]} is not installed", hint=fix) from None
    except subprocess.TimeoutExpired:
        raise EnvironmentSetupError(f"{what} timed out after {timeout:.0f} s", hint=fix) from None
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip()]
        errors = [ln for ln in lines if "error" in ln.lower()] or lines
        raise EnvironmentSetupError(f"{what} failed: {errors[-1].strip() if errors else proc.returncode}", hint=fix)


def _debootstrap(tree: Path, scratch: Path) -> None:
    sources = scratch / "guest.sources"
    sources.write_text(aptsources.debian_sources(DEBIAN_RELEASE, DEBIAN_ARCH), encoding="utf-8")
    if shutil.which("mmdebstrap") is None:
        raise EnvironmentSetupError(
            "mmdebstrap is not installed (needed to build the arm64 root filesystem)", hint="apt-get install mmdebstrap"
        )
    _run(
        [
            "mmdebstrap",
            f"--arch={DEBIAN_ARCH}",
            "--variant=extract",
            "--quiet",
            f"--include={','.join(DEB_PACKAGES)}",
            DEBIAN_RELEASE,
            str(tree),
            str(sources),
        ],
        MMDEBSTRAP_TIMEOUT_S,
        "building the Debian arm64 root filesystem (mmdebstrap)",
        "check the host's apt sources and network with: apt-get update",
        scratch,
    )


def _install_wheels(tree: Path, scratch: Path) -> None:
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-input",
        "--no-deps",
        "--no-compile",
        "--only-binary=:all:",
        "--target",
        str(tree / GUEST_SITE),
        "--python-version",
        "3.11",
        "--implementation",
        "cp",
        "--abi",
        "cp311",
    ]
    for tag in WHEEL_PLATFORMS:
        cmd += ["--platform", tag]
    cmd += [f"{name}=={version}" for name, version in WHEELS.items()]
    _run(
        cmd,
        PIP_TIMEOUT_S,
        "installing the aarch64 runtime wheels (pip)",
        f"check that pip can reach the package index: {sys.executable} -m pip download numpy",
        scratch,
    )


def _tidy(tree: Path, scratch: Path) -> None:
    """Drop device nodes and co.; turn absolute symlinks into relative ones."""
    for name in NOT_COPIED:
        target = tree / name
        if target.is_symlink() or target.is_file():
            target.unlink()
        elif target.is_dir():
            shutil.rmtree(target)
    for dirpath, dirnames, filenames in os.walk(tree):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            if path.is_symlink() and os.readlink(path).startswith("/"):
                inside = tree / os.readlink(path).lstrip("/")
                path.unlink()
                path.symlink_to(os.path.relpath(inside, path.parent))


def _precompile(tree: Path, scratch: Path) -> None:
    """Unchecked-hash .pyc for the stdlib and the wheels, with guest paths in tracebacks."""
    if sys.version_info[:2] != (3, 11):
        warn("host Python is not 3.11: the guest's modules are not precompiled (slower start)")
        return
    for folder in (tree / "usr/lib/python3.11", tree / GUEST_SITE):
        compileall.compile_dir(
            folder,
            quiet=2,
            workers=0,
            stripdir=str(tree),
            prependdir="/",
            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
        )


def _build(key: str) -> None:
    """Build the tree into a temporary folder under the lock, then rename it into place."""
    base = cache_root() / "rootfs"
    for stale in base.glob(f".tmp-{key}-*"):
        shutil.rmtree(stale, ignore_errors=True)
    if shutil.disk_usage(base).free < MIN_FREE_BYTES:
        raise EnvironmentSetupError(
            f"less than 1 GiB free under {base} for the arm64 root filesystem",
            hint="free some space or set EDGEKIT_CACHE_DIR",
        )
    scratch = base / f".tmp-{key}-{os.getpid()}"
    start = time.monotonic()
    try:
        scratch.mkdir(parents=True)
        tree = scratch / "root"
        steps = (
            (_debootstrap, 4, "debian"),
            (_install_wheels, 4, "wheels"),
            (_tidy, 1, "tidy"),
            (_precompile, 2, "bytecode"),
        )
        with Bar("building the arm64 root filesystem", total=12) as bar:
            for func, weight, note in steps:
                func(tree, scratch)
                bar.advance(weight, note)
            shutil.rmtree(scratch / "tmp", ignore_errors=True)
            meta = {
                "key": key,
                "recipe": recipe(),
                "build_seconds": time.monotonic() - start,
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            }
            write_manifest(tree, scratch / "manifest.json", scratch / "stamp.json", meta)
            bar.advance(1, "manifest")
        _swap_into_place(scratch, base / key)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    log(f"arm64 root filesystem ready at {base / key / 'root'} ({time.monotonic() - start:.0f} s)")


def _swap_into_place(scratch: Path, home: Path) -> None:
    """Rename the finished build onto `home` (an old, damaged one is moved aside first)."""
    if home.exists():
        trash = home.with_name(f".tmp-{home.name}-old-{os.getpid()}")
        os.replace(home, trash)
        shutil.rmtree(trash, ignore_errors=True)
    os.replace(scratch, home)
