"""`--provision`: the pinned runtime wheels into a private folder on a device, without network there.

The host downloads the pinned wheels (`edge_kit.emulation.rootfs.WHEELS`, the same versions
the emulated targets run) once for the device's Python version, architecture and glibc,
into `cache_root()/device-wheels/`. They are copied to the device's work folder and
unpacked by the device's own python3 (stdlib `zipfile`: no pip, venv or network needed
there, so air-gapped boards and Debian's venv-less python3 work) into
`~/.cache/edgekit-device/<key>/site`, which the harness gets on its PYTHONPATH. Nothing
is installed system-wide; `rm -rf ~/.cache/edgekit-device` undoes it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from edge_kit.cache import cache_root
from edge_kit.errors import EnvironmentSetupError

PROVISION_VERSION = 1  # bump when the layout on the device changes
DEVICE_CACHE = ".cache/edgekit-device"  # under the device user's home
DOWNLOAD_TIMEOUT_S = 900


def pins() -> dict[str, str]:
    """The pinned runtime wheels and their dependencies (the emulated targets' own)."""
    from edge_kit.emulation.rootfs import WHEELS

    return dict(WHEELS)


def pins_key() -> str:
    """Names the provisioned folder: the pins plus the layout version (the device adds cpXY-arch)."""
    blob = json.dumps([PROVISION_VERSION, sorted(pins().items())]).encode()
    return f"pins-{hashlib.sha256(blob).hexdigest()[:12]}"


def needed(model: Path) -> dict[str, str]:
    """Distributions the harness needs on the device for this artifact, with their pinned versions."""
    from edge_kit.registry import format_for_suffix, format_of_file

    # by content; by name for an artifact not on this machine yet (the harness adapters' distributions)
    fmt = format_of_file(model) if model.is_file() else format_for_suffix(model.suffix)
    names = ["numpy", *(fmt.board_distributions if fmt is not None else ())]
    return {name: pins()[name] for name in names}


def platform_tags(machine: str, glibc: str | None) -> list[str]:
    """Wheel platform tags a device accepts: manylinux_2_N down to 2_17 for its glibc (pip takes them literally)."""
    try:
        minor = int((glibc or "").split()[-1].split(".")[1])
    except (IndexError, ValueError):
        minor = 28  # unknown glibc: what the pinned aarch64 wheels need at most
    return [f"manylinux_2_{v}_{machine}" for v in range(max(minor, 17), 16, -1)] + [
        f"manylinux2014_{machine}",
        f"linux_{machine}",
    ]


def download_command(folder: Path, python: str, machine: str, glibc: str | None) -> list[str]:
    """`pip download` of the pinned wheels for a device's Python (`3.11`), arch and glibc."""
    major, minor = python.split(".")[:2]
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--disable-pip-version-check",
        "--no-input",
        "--no-deps",
        "--only-binary=:all:",
        "--dest",
        str(folder),
        "--python-version",
        f"{major}.{minor}",
        "--implementation",
        "cp",
        "--abi",
        f"cp{major}{minor}",
    ]
    for tag in platform_tags(machine, glibc):
        cmd += ["--platform", tag]
    return cmd + [f"{name}=={version}" for name, version in pins().items()]


def device_wheels(python: str, machine: str, glibc: str | None) -> Path:
    """The pinned wheels for this kind of device, downloaded once and cached on the host."""
    from filelock import FileLock

    major, minor = python.split(".")[:2]
    base = cache_root() / "device-wheels"
    folder = base / f"{pins_key()}-cp{major}{minor}-{machine}"
    if (folder / "complete").is_file():
        return folder
    base.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder) + ".lock", timeout=DOWNLOAD_TIMEOUT_S):
        if (folder / "complete").is_file():
            return folder
        tmp = base / f".tmp-{folder.name}-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            _download(download_command(tmp, python, machine, glibc), python, machine)
            (tmp / "complete").write_text(json.dumps(pins()) + "\n")
            shutil.rmtree(folder, ignore_errors=True)
            os.replace(tmp, folder)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _download(cmd: list[str], python: str, machine: str) -> None:
    what = f"downloading the pinned runtime wheels for Python {python} on {machine}"
    try:
        proc = subprocess.run(
            cmd, check=False, capture_output=True, text=True, timeout=DOWNLOAD_TIMEOUT_S, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired:
        raise EnvironmentSetupError(f"{what} timed out", hint="check that pip can reach the package index") from None
    if proc.returncode != 0:
        errors = [ln for ln in proc.stderr.splitlines() if "ERROR" in ln] or proc.stderr.splitlines() or ["?"]
        raise EnvironmentSetupError(
            f"{what} failed: {errors[-1].strip()[:200]}",
            hint="the pinned versions may have no wheel for that Python; install the "
            "runtime on the device yourself (python3 -m pip install ...)",
        )


# Runs on the device (stdlib only, Python >= 3.8): unpack the wheels into PRIVATE/site, atomically.
INSTALL_PY = r"""
import glob, json, os, shutil, sys, zipfile
wheels, private = sys.argv[1], sys.argv[2]
tmp = "%s.tmp-%d" % (private, os.getpid())
site = os.path.join(tmp, "site")
os.makedirs(site)
try:
    names = sorted(glob.glob(os.path.join(wheels, "*.whl")))
    for wheel in names:
        with zipfile.ZipFile(wheel) as z:
            z.extractall(site)
    for data in glob.glob(os.path.join(site, "*.data")):
        for sub in ("purelib", "platlib"):
            src = os.path.join(data, sub)
            for entry in (os.listdir(src) if os.path.isdir(src) else []):
                shutil.move(os.path.join(src, entry), os.path.join(site, entry))
        shutil.rmtree(data)
    with open(os.path.join(tmp, "complete"), "w") as handle:
        json.dump([os.path.basename(n) for n in names], handle)
    if os.path.isdir(private):
        shutil.rmtree(private)
    os.rename(tmp, private)
finally:
    shutil.rmtree(tmp, ignore_errors=True)
"""
