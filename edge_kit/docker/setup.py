"""What the docker backend needs, checked and (where edgekit can) fixed: `edgekit setup|doctor --backend docker`.

- the docker client and a Docker engine (edgekit never starts a daemon: it prints the command);
- the buildx CLI plugin: Debian bookworm has none, so setup fetches Debian trixie's
  `docker-buildx` package with a private apt configuration (the host's own Debian mirror,
  suite rewritten; the host's apt state untouched) and puts its one binary into the user's
  docker CLI plugins (`~/.docker/cli-plugins`);
- arm64 binfmt: `qemu-aarch64-static` registered with the F flag (the interpreter is opened at
  registration, so containers need no QEMU of their own). As root setup mounts binfmt_misc and
  registers it; otherwise doctor prints the exact commands.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path

from edge_kit import progress
from edge_kit.docker import engine
from edge_kit.emulation.environment import Check
from edge_kit.errors import EnvironmentSetupError
from edge_kit.proc import run as run_child

BINFMT_DIR = Path("/proc/sys/fs/binfmt_misc")
BINFMT_NAME = "qemu-aarch64"
STATIC_QEMU = "/usr/bin/qemu-aarch64-static"
# Debian's /usr/lib/binfmt.d/qemu-aarch64.conf: the aarch64 ELF header and its mask.
AARCH64_MAGIC = r"\x7f\x45\x4c\x46\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00"
AARCH64_MASK = r"\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff"
BUILDX_SUITE = "trixie"  # the first Debian release that packages docker-buildx (one Go binary, libc6 only)
APT_TIMEOUT_S = 600
SETUP_HINT = "edgekit setup --backend docker"


def binfmt_rule() -> str:
    """The registration line: Debian's magic and mask, the static QEMU, flag F."""
    return f":{BINFMT_NAME}:M::{AARCH64_MAGIC}:{AARCH64_MASK}:{STATIC_QEMU}:F"


def binfmt_commands() -> list[str]:
    """What a root user runs to register arm64 binfmt by hand."""
    return [
        f"sudo mount -t binfmt_misc binfmt_misc {BINFMT_DIR}  # unless already mounted",
        f"echo -1 | sudo tee {BINFMT_DIR}/{BINFMT_NAME}  # only if an entry without flag F exists",
        f"printf '%s\\n' '{binfmt_rule()}' | sudo tee {BINFMT_DIR}/register",
    ]


def native_arm64() -> bool:
    return platform.machine().lower() in ("aarch64", "arm64")


def binfmt_status() -> tuple[bool, str]:
    """(ok, detail) of the arm64 binfmt entry the local engine's containers need."""
    if native_arm64():
        return True, "native arm64 host (no emulation needed)"
    if not (BINFMT_DIR / "status").exists():
        return False, f"binfmt_misc is not mounted at {BINFMT_DIR}"
    entry = BINFMT_DIR / BINFMT_NAME
    if not entry.exists():
        return False, f"no {BINFMT_NAME} entry registered"
    fields = {ln.partition(" ")[0]: ln.partition(" ")[2] for ln in entry.read_text().splitlines()}
    interpreter, flags = fields.get("interpreter", ""), fields.get("flags:", "")
    if "enabled" not in fields:
        return False, f"{BINFMT_NAME} is registered but disabled"
    if "F" not in flags:
        return False, f"{BINFMT_NAME} -> {interpreter} lacks flag F (containers cannot open the interpreter)"
    if not Path(interpreter).is_file():
        return False, f"{BINFMT_NAME} names {interpreter}, which does not exist"
    return True, f"{BINFMT_NAME} -> {interpreter} (flags {flags})"


def fix_binfmt() -> str:
    """As root: mount binfmt_misc if needed and register qemu-aarch64-static with flag F."""
    if not Path(STATIC_QEMU).is_file():
        raise EnvironmentSetupError(f"{STATIC_QEMU} is missing", hint="apt-get install qemu-user-static")
    if os.geteuid() != 0:
        raise EnvironmentSetupError(
            "registering arm64 binfmt needs root", hint="run as root: " + "; ".join(binfmt_commands())
        )
    if not (BINFMT_DIR / "status").exists():
        _root_cmd(["mount", "-t", "binfmt_misc", "binfmt_misc", str(BINFMT_DIR)], "mounting binfmt_misc")
    try:
        if (BINFMT_DIR / BINFMT_NAME).exists():
            (BINFMT_DIR / BINFMT_NAME).write_text("-1")  # an entry without F (e.g. Debian's wrapper) is replaced
        (BINFMT_DIR / "register").write_text(binfmt_rule())
    except OSError as exc:
        raise EnvironmentSetupError(
            f"cannot register arm64 binfmt: {exc.strerror}", hint="; ".join(binfmt_commands())
        ) from None
    return binfmt_status()[1]


def _root_cmd(cmd: list[str], what: str) -> None:
    proc = run_child(cmd, timeout=60)
    if proc.returncode != 0:
        raise EnvironmentSetupError(f"{what} failed: {proc.stderr.strip()[:200]}", hint="; ".join(binfmt_commands()))


def buildx_status() -> tuple[bool, str]:
    try:
        proc = engine.docker(["buildx", "version"], timeout=30)
    except (OSError, subprocess.TimeoutExpired, EnvironmentSetupError) as exc:
        return False, str(exc)[:200]
    return proc.returncode == 0, (proc.stdout.strip() or engine.last_line(proc.stderr))[:200]


def plugin_dir() -> Path:
    return Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker") / "cli-plugins"


def _apt(args: list[str], conf: list[str], cwd: Path, what: str) -> None:
    try:
        proc = run_child(["apt-get", "-q", *conf, *args], timeout=APT_TIMEOUT_S, cwd=cwd)
    except (FileNotFoundError, subprocess.TimeoutExpired) as exc:
        raise EnvironmentSetupError(
            f"{what}: {exc}", hint="install docker-buildx by hand (docs/emulation.md)"
        ) from None
    if proc.returncode != 0:
        raise EnvironmentSetupError(
            f"{what} failed: {engine.last_line(proc.stderr + proc.stdout)}",
            hint="check the host's apt sources and network (apt-get update)",
        )


def install_buildx() -> Path:
    """Fetch Debian trixie's docker-buildx with a private apt configuration; install its plugin binary."""
    from edge_kit.emulation.aptsources import debian_sources

    arch = subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=False, timeout=30
    ).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="edgekit-buildx-") as tmp:
        work = Path(tmp)
        (work / "lists/partial").mkdir(parents=True)
        (work / "cache/archives/partial").mkdir(parents=True)
        (work / "trixie.sources").write_text(debian_sources(BUILDX_SUITE, arch or "amd64"), encoding="utf-8")
        conf = [
            f"-o=Dir::Etc::sourcelist={work / 'trixie.sources'}",
            "-o=Dir::Etc::sourceparts=-",
            f"-o=Dir::State::Lists={work / 'lists'}",
            f"-o=Dir::Cache={work / 'cache'}",
            "-o=Debug::NoLocking=1",
        ]
        with progress.step(f"fetching docker-buildx from Debian {BUILDX_SUITE}"):
            _apt(["update"], conf, work, f"apt-get update (Debian {BUILDX_SUITE})")
            _apt(["download", "docker-buildx"], conf, work, "apt-get download docker-buildx")
        debs = sorted(work.glob("docker-buildx_*.deb"))
        if (
            not debs
            or subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(work / "x")], check=False, timeout=300).returncode
        ):
            raise EnvironmentSetupError(
                "the docker-buildx package could not be unpacked", hint="dpkg-deb -x it by hand"
            )
        binary = work / "x/usr/libexec/docker/cli-plugins/docker-buildx"
        dest = plugin_dir() / "docker-buildx"
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(binary, dest.with_suffix(".tmp"))
        dest.with_suffix(".tmp").chmod(0o755)
        os.replace(dest.with_suffix(".tmp"), dest)
    return dest


def local_engine() -> bool:
    """True when the engine runs on this machine (its binfmt is ours to check)."""
    host = os.environ.get("DOCKER_HOST", "")
    return not host or host.startswith("unix://")


def require_docker(builder: str | None = None) -> None:
    """Before a run: client, buildx, and the engine with arm64 binfmt (or the named builder)."""
    engine.docker_bin()
    ok, why = buildx_status()
    if not ok:
        raise EnvironmentSetupError(f"the docker backend needs the buildx plugin: {why}", hint=SETUP_HINT)
    if builder:
        return  # the builder is checked where it is used (edge_kit.profiler.docker_builder)
    if engine.engine_version() is None:
        raise EnvironmentSetupError("the docker backend needs a Docker engine: none answers", hint=engine.START_ENGINE)
    ok, why = binfmt_status()
    if local_engine() and not ok:
        raise EnvironmentSetupError(
            f"arm64 containers need binfmt: {why}", hint=f"{SETUP_HINT} (as root), or: " + "; ".join(binfmt_commands())
        )


def docker_checks() -> list[Check]:
    """`edgekit doctor --backend docker`: each check with the command that fixes it."""
    client = shutil.which("docker")
    checks = [
        Check(
            "docker client", client is not None, client or "not found", None if client else "apt-get install docker.io"
        )
    ]
    if client is None:
        return checks
    version = engine.engine_version()
    checks.append(
        Check(
            "docker engine",
            version is not None,
            f"version {version}" if version else "no engine answers",
            None if version else engine.START_ENGINE,
        )
    )
    ok, detail = buildx_status()
    checks.append(Check("docker buildx", ok, detail, None if ok else SETUP_HINT))
    if local_engine():
        ok, detail = binfmt_status()
        fix = None if ok else (SETUP_HINT if os.geteuid() == 0 else "; ".join(binfmt_commands()))
        checks.append(Check("arm64 binfmt", ok, detail, fix))
    return checks


def setup_docker(base_image: str | None = None) -> dict[str, str]:
    """Fix what can be fixed (buildx, binfmt as root), then build the profiling image."""
    from edge_kit.docker.image import ensure_image

    engine.docker_bin()
    built: dict[str, str] = {}
    if not buildx_status()[0]:
        built["buildx"] = str(install_buildx())
    if local_engine() and not binfmt_status()[0]:
        built["binfmt"] = fix_binfmt()
    require_docker()
    image = ensure_image(base_image)
    how = f"built in {image.build_s:.0f} s" if image.build_s is not None else "cached"
    built["profiling image"] = f"{image.tag} ({how})"
    return built
