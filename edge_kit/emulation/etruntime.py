"""Build and cache the lean ExecuTorch runtime: libedgekit_et.so + the wheel's .so files.

`ensure_et_runtime("aarch64")` returns a folder holding `libedgekit_et.so` (our C
shim, `et_shim.cpp`, compiled against the prebuilt libraries of the executorch
wheel of the host's executorch version) and the ExecuTorch libraries it needs,
found through RUNPATH `$ORIGIN`. No Python, torch or libtorch is involved: the
folder is loaded with ctypes by `edge_kit/harness/et_runtime.py`, inside an
emulated guest or on the host.

The folder lives under `cache_root()/etruntime/<key>` (key = executorch version,
arch, hash of the shim source and build flags); it is built once under a file
lock into a temporary folder, renamed into place, and every use re-checks the
sha256 of its files against MANIFEST.json (a corrupt folder is rebuilt).
For the host's own architecture the installed executorch package's libraries
are used; for another one the matching wheel is downloaded once with pip.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import importlib.util
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
import zlib
from pathlib import Path

from edge_kit.cache import cache_root
from edge_kit.errors import EnvironmentSetupError, UsageError
from edge_kit.fsutil import atomic_path, sha256_file, write_text_atomic
from edge_kit.proc import run as run_child
from edge_kit.progress import log, step, warn

SHIM_NAME = "libedgekit_et.so"
MANIFEST = "MANIFEST.json"
ARCHES = ("aarch64", "x86_64")
ARCH_ALIASES = {"arm64": "aarch64", "amd64": "x86_64", "x64": "x86_64"}
# The libraries the shim links (without "lib"/".so"). All must be kept on the
# link line with --no-as-needed: the kernel and XNNPACK libraries register
# themselves from static initializers and export nothing the shim calls.
ET_LIBS = (
    "executorch",
    "executorch_kernels_optimized",
    "executorch_kernels_quantized",
    "executorch_backend_xnnpack",
    "executorch_threadpool",
    "executorch_etdump",
)
# The same compile definitions the wheel's executorch-config.cmake puts on its targets.
DEFINES = ("C10_USING_CUSTOM_GENERATED_MACROS", "ET_EVENT_TRACER_ENABLED", "ET_USE_THREADPOOL")
CXXFLAGS = ("-std=c++17", "-O2", "-fPIC", "-shared", "-fvisibility=hidden", "-Wall")
BUILD_REVISION = "1"  # bump to force every cached runtime to be rebuilt
COMPILE_TIMEOUT_S = 300
DOWNLOAD_TIMEOUT_S = 900
LOCK_TIMEOUT_S = 1200


def normalize_arch(arch: str) -> str:
    """'arm64' -> 'aarch64'; unknown names raise UsageError listing the known ones."""
    name = ARCH_ALIASES.get(arch.lower(), arch.lower())
    if name not in ARCHES:
        raise UsageError(
            f"unknown architecture {arch!r} for the ExecuTorch runtime", hint=f"use one of: {', '.join(ARCHES)}"
        )
    return name


def host_arch() -> str:
    return ARCH_ALIASES.get(platform.machine().lower(), platform.machine().lower())


def executorch_version() -> str:
    try:
        return importlib.metadata.version("executorch")
    except importlib.metadata.PackageNotFoundError:
        raise EnvironmentSetupError("executorch is not installed", hint="pip install executorch==1.5.1") from None


def shim_source() -> bytes:
    """The C++ source of the shim (shipped next to this module as package data)."""
    return Path(__file__).with_name("et_shim.cpp").read_bytes()


def runtime_key(arch: str) -> str:
    """Cache key: executorch version, arch, hash of the shim source and build recipe."""
    digest = hashlib.sha256(shim_source())
    digest.update(json.dumps([ET_LIBS, DEFINES, CXXFLAGS, BUILD_REVISION]).encode())
    return f"executorch-{executorch_version()}-{normalize_arch(arch)}-{digest.hexdigest()[:12]}"


def compiler_for(arch: str) -> str:
    """The C++ compiler that targets `arch`, or EnvironmentSetupError with the fix."""
    arch = normalize_arch(arch)
    name = "g++" if arch == host_arch() else f"{arch}-linux-gnu-g++"
    found = shutil.which(name)
    if found is None:
        package = "g++" if arch == host_arch() else f"g++-{arch.replace('_', '-')}-linux-gnu"
        raise EnvironmentSetupError(
            f"the C++ compiler {name} is needed to build the ExecuTorch runtime for {arch}",
            hint=f"install it: sudo apt-get install {package}",
        )
    return found


# --- where the prebuilt ExecuTorch libraries and headers come from


def _installed_package_dir() -> Path | None:
    spec = importlib.util.find_spec("executorch")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations)))
    return root if (root / "lib" / "libexecutorch.so").is_file() else None


def _wheel_platform(arch: str) -> str:
    return f"manylinux_2_28_{arch}"


def fetch_wheel(arch: str) -> Path:
    """The executorch wheel for `arch` (same version as the host's), downloaded once.

    Cached under cache_root()/etruntime/wheels; only lib/ and include/ are used.
    """
    arch, version = normalize_arch(arch), executorch_version()
    folder = cache_root() / "etruntime" / "wheels"
    pattern = f"executorch-{version}-*{arch}.whl"
    cached = sorted(folder.glob(pattern))
    if cached and zipfile.is_zipfile(cached[0]):
        return cached[0]
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".download-") as tmp:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            f"executorch=={version}",
            "--no-deps",
            "--only-binary=:all:",
            "--platform",
            _wheel_platform(arch),
            "--python-version",
            "3.11",
            "--implementation",
            "cp",
            "--abi",
            "cp311",
            "-d",
            tmp,
        ]
        with step(f"Downloading the executorch {version} wheel for {arch}"):
            proc = _run([*cmd, "--quiet"], DOWNLOAD_TIMEOUT_S, "pip download")
            wheels = sorted(Path(tmp).glob(pattern))
            if proc.returncode != 0 or not wheels:
                raise EnvironmentSetupError(
                    f"could not download the executorch {version} wheel for {arch}: {_tail(proc.stderr)}",
                    hint=f"download it by hand: {' '.join(cmd[:-1])} {folder}",
                )
        dest = folder / wheels[0].name
        wheels[0].replace(dest)
    return dest


def _record_hashes(wheel: zipfile.ZipFile) -> dict[str, str]:
    record = next(n for n in wheel.namelist() if n.endswith(".dist-info/RECORD"))
    hashes = {}
    for line in wheel.read(record).decode().splitlines():
        parts = line.rsplit(",", 2)
        if len(parts) == 3 and parts[1].startswith("sha256="):
            hashes[parts[0]] = parts[1][len("sha256=") :]
    return hashes


def _extract_wheel(wheel_path: Path, dest: Path, *, cached: bool) -> Path:
    """Extract executorch/lib and executorch/include, checking RECORD hashes.

    A corrupt wheel from our own cache is deleted so that the next run downloads it again.
    """
    try:
        with zipfile.ZipFile(wheel_path) as wheel:
            hashes = _record_hashes(wheel)
            for name in wheel.namelist():
                if (
                    not name.startswith(("executorch/lib/", "executorch/include/"))
                    or name.endswith("/")
                    or ".." in Path(name).parts
                ):
                    continue
                data = wheel.read(name)
                digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
                if name in hashes and digest.decode() != hashes[name]:
                    raise zipfile.BadZipFile(f"{name} does not match the wheel's RECORD")
                (dest / name).parent.mkdir(parents=True, exist_ok=True)
                (dest / name).write_bytes(data)
    except (zipfile.BadZipFile, zlib.error, StopIteration, KeyError) as exc:
        if cached:
            wheel_path.unlink(missing_ok=True)
        raise EnvironmentSetupError(
            f"the wheel {wheel_path} is corrupt ({exc})",
            hint="run the command again to download it afresh" if cached else "pass an intact executorch wheel",
        ) from None
    return dest / "executorch"


def _package_dir(arch: str, wheel: Path | None, scratch: Path) -> Path:
    """A folder with lib/ and include/ of the executorch build for `arch`."""
    if wheel is None and arch == host_arch():
        installed = _installed_package_dir()
        if installed is not None:
            return installed
        log("the installed executorch ships no lib/; using the wheel instead")
    if wheel is not None:
        return _extract_wheel(wheel, scratch, cached=False)
    return _extract_wheel(fetch_wheel(arch), scratch, cached=True)


# --- build, verify, cache


def _run(cmd: list[str], timeout: float, what: str) -> subprocess.CompletedProcess[str]:
    try:
        return run_child(cmd, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise EnvironmentSetupError(f"{what} took longer than {timeout:.0f}s") from None
    except OSError as exc:
        raise EnvironmentSetupError(f"cannot run {cmd[0]}: {exc}") from None


def _tail(text: str, lines: int = 8) -> str:
    return " | ".join(text.strip().splitlines()[-lines:])


def _compile(arch: str, package: Path, out: Path) -> None:
    source = out / "et_shim.cpp"
    source.write_bytes(shim_source())
    cmd = [
        compiler_for(arch),
        *CXXFLAGS,
        *(f"-D{d}" for d in DEFINES),
        f"-ffile-prefix-map={package}=executorch",
        f"-ffile-prefix-map={out}=edgekit",
        f'-DEDGEKIT_ET_VERSION="{executorch_version()}"',
        f"-I{package / 'include'}",
        f"-I{package / 'include/executorch/runtime/core/portable_type/c10'}",
        str(source),
        "-o",
        str(out / SHIM_NAME),
        f"-L{package / 'lib'}",
        "-Wl,--no-as-needed",
        *(f"-l{lib}" for lib in ET_LIBS),
        "-Wl,--as-needed",
        "-Wl,-rpath,$ORIGIN",
        "-Wl,--enable-new-dtags",
    ]
    proc = _run(cmd, COMPILE_TIMEOUT_S, "compiling et_shim.cpp")
    source.unlink()
    if proc.returncode != 0:
        raise EnvironmentSetupError(
            f"compiling et_shim.cpp for {arch} failed: {_tail(proc.stderr)}",
            hint="rerun with --debug; the compiler output is above",
        )
    for lib in ET_LIBS:
        shutil.copy2(package / "lib" / f"lib{lib}.so", out / f"lib{lib}.so")


def _write_manifest(folder: Path, arch: str, seconds: float) -> None:
    files = {p.name: sha256_file(p) for p in sorted(folder.iterdir()) if p.name != MANIFEST}
    manifest = {
        "executorch_version": executorch_version(),
        "arch": arch,
        "key": runtime_key(arch),
        "build_seconds": round(seconds, 2),
        "files": files,
    }
    write_text_atomic(folder / MANIFEST, json.dumps(manifest, indent=2) + "\n")


def verify_runtime(folder: Path) -> list[str]:
    """Problems with a built runtime folder (empty list = intact)."""
    try:
        files = json.loads((folder / MANIFEST).read_text())["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return [f"{MANIFEST} is missing or unreadable"]
    if SHIM_NAME not in files:
        return [f"{SHIM_NAME} is not listed in {MANIFEST}"]
    problems = []
    for name, digest in files.items():
        path = folder / name
        if not path.is_file():
            problems.append(f"{name} is missing")
        elif sha256_file(path) != digest:
            problems.append(f"{name} does not match its checksum")
    return problems


def _build(arch: str, wheel: Path | None, dest: Path) -> None:
    start = time.perf_counter()
    with (
        atomic_path(dest, directory=True) as tmp,
        tempfile.TemporaryDirectory(dir=dest.parent, prefix=".scratch-") as scratch,
    ):
        package = _package_dir(arch, wheel, Path(scratch))
        with step(f"Building the ExecuTorch runtime for {arch}"):
            _compile(arch, package, tmp)
        _write_manifest(tmp, arch, time.perf_counter() - start)
        tmp.chmod(0o755)  # mkdtemp made it private; the cache may be shared


def ensure_et_runtime(arch: str = "aarch64", *, wheel: Path | None = None, rebuild: bool = False) -> Path:
    """The cached runtime folder for `arch` (built on first use, rebuilt when corrupt).

    `wheel` names a local executorch wheel for `arch` to build from (default: the
    installed package for the host's arch, else a downloaded wheel).
    """
    from filelock import FileLock, Timeout

    arch = normalize_arch(arch)
    dest = cache_root() / "etruntime" / runtime_key(arch)
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(str(dest) + ".lock", timeout=LOCK_TIMEOUT_S):
            problems = ["a rebuild was requested"] if rebuild else verify_runtime(dest)
            if problems and dest.exists():
                warn(f"rebuilding the ExecuTorch runtime in {dest}: {'; '.join(problems)}")
            if problems:
                compiler_for(arch)  # fail before any download when the compiler is missing
                _build(arch, wheel, dest)
    except Timeout:
        raise EnvironmentSetupError(
            f"another process holds the lock on {dest} for too long", hint=f"if none is running, delete {dest}.lock"
        ) from None
    return dest


def runtime_size(folder: Path) -> int:
    """Total bytes of the runtime folder."""
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())


def cached_et_runtime(arch: str = "aarch64") -> Path | None:
    """The intact cached runtime folder for `arch`, None when not built (never builds); a damaged
    folder is an EnvironmentSetupError naming what its checksums found."""
    dest = cache_root() / "etruntime" / runtime_key(normalize_arch(arch))
    if not dest.is_dir():
        return None
    problems = verify_runtime(dest)
    if problems:
        raise EnvironmentSetupError(f"damaged: {'; '.join(problems)}", hint="edgekit setup rebuilds it")
    return dest
