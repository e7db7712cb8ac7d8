"""The profiling image, built offline with `docker buildx` and cached by content.

    FROM scratch                      # or FROM <--base-image> (the user's own arm64 image)
    ADD edgekit.tar /                 # edgekit's arm64 root filesystem + /opt/edgekit

The root filesystem is the one the qemu backend runs in (`edge_kit.emulation.rootfs`), so the
runtimes and their versions are identical; `/opt/edgekit` holds the harness, the container
driver, the aarch64 ExecuTorch runtime and the instruction-counting QEMU. Nothing is pulled or
downloaded: no registry, `--network none`. One layer, because the vfs storage driver copies
every layer in full. The tag is `edgekit-profile:<key>`, the key a hash of everything that goes
in (root filesystem manifest or base image ID, every /opt/edgekit file, the Dockerfile), so
the image is rebuilt only when one of them changes; a file lock keeps two edgekit processes
from building the same image twice (which would leave an untagged `<none>` image behind).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tarfile
import tempfile
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from edge_kit import progress
from edge_kit.cache import cache_root
from edge_kit.docker import engine
from edge_kit.errors import EnvironmentSetupError, RuntimeFailure

RECIPE = 1  # bump when the image layout changes: every cached image is rebuilt
REPO = "edgekit-profile"
LABEL = "org.edgekit.profile-image"
PLATFORM = "linux/arm64"
GUEST = "/opt/edgekit"
GUEST_PYTHON = "/usr/bin/python3.11"
BUILD_TIMEOUT_S = 1800.0
LOCK_TIMEOUT_S = 1800.0
RUNTIME_MODULES = {"onnxruntime": "onnxruntime", "litert": "ai_edge_litert", "executorch": None}
PIP_HINT = "pip install numpy==2.4.6 onnxruntime==1.31.1 ai-edge-litert==2.3.0"
_PROBE = (
    "import importlib.util as u, json, sys; print(json.dumps({'version': list(sys.version_info[:2]), "
    "'executable': sys.executable, 'modules': {m: u.find_spec(m) is not None for m in "
    "('numpy', 'onnxruntime', 'ai_edge_litert')}}))"
)


@dataclass(frozen=True)
class ProfileImage:
    """A built profiling image: its tag, its python, the runtimes it has, how long the build took."""

    tag: str
    python: str
    runtimes: tuple[str, ...]
    base: str | None
    build_s: float | None = None  # None: it was already cached


def payload() -> dict[str, Path]:
    """Paths under /opt/edgekit/ -> host files: harness, driver, ExecuTorch runtime, counting QEMU."""
    from edge_kit.docker.counting import counting_files
    from edge_kit.emulation.environment import harness_path
    from edge_kit.emulation.etruntime import ensure_et_runtime

    files = {f"harness/{p.name}": p for p in sorted(harness_path().parent.glob("*.py")) if p.name != "__init__.py"}
    files["driver.py"] = Path(str(resources.files("edge_kit.docker") / "driver.py"))
    et = ensure_et_runtime("aarch64")
    files.update({f"et/{p.name}": p for p in sorted(et.iterdir()) if p.is_file()})
    files.update(counting_files())
    return files


def dockerfile(base: str | None, python: str, labels: dict[str, str]) -> str:
    """The image's Dockerfile (no `# syntax=` line: that would pull a frontend image)."""
    env = {
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": "/tmp",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
        "PYTHONUNBUFFERED": "1",
        "OPENBLAS_NUM_THREADS": "1",  # numpy's own BLAS threads would only idle and spin (as in the qemu backend)
        "QEMU_LD_PREFIX": f"{GUEST}/view",  # binfmt QEMU reads the target's /proc/cpuinfo and /sys cpu files there
        "EDGEKIT_ET_LIB": f"{GUEST}/et/libedgekit_et.so",
    }
    if base is None:
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", **env}
    lines = [
        f"# edgekit profiling image ({'from ' + base if base else 'edgekit arm64 root filesystem'})",
        f"FROM {base or 'scratch'}",
        "ADD edgekit.tar /",
        "ENV " + " ".join(f"{k}={json.dumps(v)}" for k, v in env.items()),
        *(["LABEL " + " ".join(f"{k}={json.dumps(v)}" for k, v in sorted(labels.items()))] if labels else []),
        "WORKDIR /tmp",
        f'ENTRYPOINT ["{python}", "{GUEST}/driver.py"]',
    ]
    return "\n".join(lines) + "\n"


def _rootfs_digest(rootfs_home: Path) -> str:
    manifest = json.loads((rootfs_home / "manifest.json").read_text(encoding="utf-8"))
    body = json.dumps({"files": manifest["files"], "links": manifest.get("links", {})}, sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()


def image_key(source: str, files: dict[str, Path]) -> str:
    """Hash of the root filesystem (or base image ID) and of every file under /opt/edgekit."""
    from edge_kit.fsutil import sha256_file

    digest = hashlib.sha256(f"{RECIPE}|{PLATFORM}|{source}|".encode())
    digest.update(dockerfile(None, GUEST_PYTHON, {}).encode())
    for name, path in sorted(files.items()):
        digest.update(f"{name}\0{sha256_file(path)}\0".encode())
    return digest.hexdigest()[:16]


def _root_owned(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def write_context(context: Path, rootfs: Path | None, files: dict[str, Path], text: str) -> None:
    """The build context: the Dockerfile and edgekit.tar (root filesystem + /opt/edgekit)."""
    context.mkdir(parents=True, exist_ok=True)
    with tarfile.open(context / "edgekit.tar", "w", format=tarfile.PAX_FORMAT) as tar:
        if rootfs is not None:
            tar.add(rootfs, arcname=".", filter=_root_owned)
        for folder in ("opt", "opt/edgekit", "opt/edgekit/view", "opt/edgekit/model", "opt/edgekit/input", "out"):
            info = tarfile.TarInfo(folder)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 0
            tar.addfile(info)
        for name, path in sorted(files.items()):
            info = _root_owned(tar.gettarinfo(str(path), arcname=f"opt/edgekit/{name}"))
            with open(path, "rb") as handle:
                tar.addfile(info, handle)
    (context / "Dockerfile").write_text(text, encoding="utf-8")


def probe_base(base: str) -> dict[str, Any]:
    """Check a user's base image: local, linux/arm64, python3.11 on its PATH, numpy; which runtimes it has."""
    info = engine.inspect_image(base)
    if info is None:
        raise EnvironmentSetupError(
            f"the base image {base} is not in the local Docker engine (edgekit pulls nothing)",
            hint=f"load it first: docker load -i IMAGE.tar (or docker pull {base} where a registry is reachable)",
        )
    if info.get("Architecture") != "arm64":
        raise EnvironmentSetupError(
            f"the base image {base} is for {info.get('Os')}/{info.get('Architecture')}, not linux/arm64",
            hint="use an arm64 image of the board's OS (docker buildx build --platform linux/arm64 ...)",
        )
    cmd = ["run", "--rm", "--network", "none", "--platform", PLATFORM, "--entrypoint", "python3.11", base, "-c"]
    proc = engine.docker([*cmd, _PROBE], timeout=600)
    if proc.returncode != 0:
        if "executable file not found" in proc.stderr or "no such file" in proc.stderr.lower():
            raise EnvironmentSetupError(
                f"the base image {base} has no python3.11 on its PATH",
                hint=f"install python3.11 and the runtimes in it ({PIP_HINT}), or drop --base-image",
            )
        raise engine.failure(f"checking the base image {base}", proc)
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    if found["version"] != [3, 11] or not found["modules"]["numpy"]:
        have = f"python {'.'.join(map(str, found['version']))}" + ("" if found["modules"]["numpy"] else ", no numpy")
        raise EnvironmentSetupError(
            f"the base image {base} has {have}: the harness needs python3.11 with numpy",
            hint=f"install them in it ({PIP_HINT}), or drop --base-image",
        )
    runtimes = [rt for rt, module in RUNTIME_MODULES.items() if module is None or found["modules"][module]]
    return {"id": info["Id"], "python": found["executable"], "runtimes": runtimes}


def _from_labels(tag: str, info: dict[str, Any], base: str | None, build_s: float | None) -> ProfileImage:
    labels = (info.get("Config") or {}).get("Labels") or {}
    runtimes = tuple(r for r in labels.get("org.edgekit.runtimes", "").split(",") if r)
    return ProfileImage(tag, labels.get("org.edgekit.python", GUEST_PYTHON), runtimes, base, build_s)


def _sources(base: str | None) -> tuple[Path | None, str, dict[str, Any]]:
    """(root filesystem or None, what the key hashes for it, base probe or {})."""
    if base is None:
        from edge_kit.emulation.rootfs import ensure_rootfs

        rootfs = ensure_rootfs()
        return rootfs, f"rootfs:{_rootfs_digest(rootfs.parent)}", {}
    info = engine.inspect_image(base)
    return None, f"base:{info['Id'] if info else base}", {}


def ensure_image(base: str | None = None) -> ProfileImage:
    """The profiling image for edgekit's root filesystem (or `base`), built when its content changed."""
    from filelock import FileLock, Timeout

    rootfs, source, _ = _sources(base)
    files = payload()
    tag = f"{REPO}:{image_key(source, files)}"
    found = engine.inspect_image(tag)
    if found is not None:
        return _from_labels(tag, found, base, None)
    locks = cache_root() / "docker"
    locks.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(str(locks / f"{tag.split(':')[1]}.lock"), timeout=LOCK_TIMEOUT_S):
            found = engine.inspect_image(tag)
            if found is not None:
                return _from_labels(tag, found, base, None)
            build_s = build_image(tag, base, rootfs, files)
    except Timeout:
        raise EnvironmentSetupError(
            "timed out waiting for another edgekit to build the profiling image",
            hint=f"remove {locks}/*.lock if no other edgekit is running",
        ) from None
    return _from_labels(tag, engine.inspect_image(tag) or {}, base, build_s)


def build_image(tag: str, base: str | None, rootfs: Path | None, files: dict[str, Path]) -> float:
    """Build `tag` with buildx (offline); returns the seconds it took."""
    probe = probe_base(base) if base else {"python": GUEST_PYTHON, "runtimes": list(RUNTIME_MODULES)}
    python, runtimes = str(probe["python"]), [str(r) for r in probe["runtimes"]]
    labels = {
        LABEL: tag.split(":")[1],
        "org.edgekit.python": python,
        "org.edgekit.runtimes": ",".join(runtimes),
        "org.edgekit.base": base or "edgekit-rootfs",
    }
    start = time.perf_counter()
    with (
        progress.step(f"building the profiling image {tag} (docker buildx, offline)"),
        tempfile.TemporaryDirectory(prefix="edgekit-image-") as tmp,
    ):
        context = Path(tmp)
        write_context(context, rootfs, files, dockerfile(base, python, labels))
        cmd = ["buildx", "build", "--network", "none", "--platform", PLATFORM, "--progress", "plain"]
        try:
            proc = engine.docker([*cmd, "--load", "-t", tag, str(context)], timeout=BUILD_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise RuntimeFailure(f"building the profiling image timed out after {BUILD_TIMEOUT_S:.0f} s") from None
        if proc.returncode != 0:
            raise engine.failure("building the profiling image", proc, hint="rerun with --debug; docker buildx ls")
    return time.perf_counter() - start


def require_runtime(image: ProfileImage, runtime: str) -> None:
    """A base image without the artifact's runtime is one clear error before anything runs."""
    if runtime not in image.runtimes:
        module = RUNTIME_MODULES.get(runtime) or runtime
        raise EnvironmentSetupError(
            f"the base image {image.base} has no {module} (needed to profile this artifact)",
            hint=f"install it in the image ({PIP_HINT}), or drop --base-image",
        )


def host_user() -> list[str]:
    """`--user UID:GID` when edgekit is not root (files in the output folder stay the user's)."""
    return [] if os.getuid() == 0 else ["--user", f"{os.getuid()}:{os.getgid()}"]
