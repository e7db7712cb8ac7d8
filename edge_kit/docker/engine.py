"""The Docker engine through its `docker` CLI: one place that runs it and reads its failures.

Failures are told apart the way a user needs them:
- nothing to talk to before a run starts (no client, no engine, no buildx): `EnvironmentSetupError` (exit 8);
- the engine, or a `--builder`, stops answering during a run: `DeviceError` (exit 12);
- a build or a container that fails, is killed or hangs: `RuntimeFailure` (exit 9).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Sequence
from typing import Any

from edge_kit.errors import DeviceError, EnvironmentSetupError, RuntimeFailure
from edge_kit.proc import run as run_child

QUERY_TIMEOUT_S = 30.0
START_ENGINE = (
    "start the Docker engine: systemctl start docker (without systemd, as root: "
    "dockerd --storage-driver=vfs --iptables=false --bridge=none &)"
)


def docker_bin() -> str:
    """The docker client's path (EnvironmentSetupError naming the package when missing)."""
    found = shutil.which("docker")
    if found is None:
        raise EnvironmentSetupError("no docker client on PATH", hint="apt-get install docker.io")
    return found


def docker(args: Sequence[str], *, timeout: float = QUERY_TIMEOUT_S, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run `docker ARGS` in its own process group (stopped on timeout or Ctrl-C); output captured."""
    return run_child([docker_bin(), *args], timeout=timeout, **kwargs)


def last_line(text: str) -> str:
    """The most telling line of a docker client's stderr (an ERROR line if there is one)."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.lower().startswith(("error", "docker: error")) or "error:" in ln.lower()]
    return ((errors or lines or ["no output"])[-1])[:300]


def engine_version(timeout: float = QUERY_TIMEOUT_S) -> str | None:
    """The engine's version, or None when no engine answers."""
    try:
        proc = docker(["version", "--format", "{{.Server.Version}}"], timeout=timeout)
    except (OSError, subprocess.TimeoutExpired, EnvironmentSetupError):
        return None
    if proc.returncode != 0:
        return None
    return proc.stdout.strip() or None


def engine_gone() -> bool:
    """True when the engine no longer answers (asked again: a client's message alone can mislead, e.g. an
    "unexpected EOF" from a build step, or "no such file" from a container's own command)."""
    return engine_version(timeout=10) is None


def failure(what: str, proc: subprocess.CompletedProcess[str], *, hint: str | None = None) -> Exception:
    """The error for a docker command that exited non-zero: engine gone (12) or the command failed (9)."""
    if engine_gone():
        return DeviceError(
            f"the Docker engine stopped answering during {what}",
            hint=f"{START_ENGINE}; then rerun (containers edgekit started are removed with the engine's --rm)",
        )
    return RuntimeFailure(f"{what} failed (docker exit {proc.returncode}): {last_line(proc.stderr)}", hint=hint)


def checked(args: Sequence[str], *, what: str, timeout: float = QUERY_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
    """`docker ARGS` that must succeed: a timeout or a non-zero exit raises (see `failure`)."""
    try:
        proc = docker(args, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RuntimeFailure(f"{what} timed out after {timeout:.0f} s") from None
    if proc.returncode != 0:
        raise failure(what, proc)
    return proc


def inspect_image(ref: str) -> dict[str, Any] | None:
    """`docker image inspect REF` as a dict, or None when the engine has no such image."""
    proc = docker(["image", "inspect", ref])
    if proc.returncode != 0:
        if "no such image" in proc.stderr.lower() or "no such object" in proc.stderr.lower():
            return None
        raise failure(f"inspecting the image {ref}", proc)
    data = json.loads(proc.stdout or "[]")
    return data[0] if data else None


def remove_container(name: str) -> None:
    """Kill and remove a container by name; quietly does nothing when it (or the engine) is gone."""
    try:
        docker(["rm", "-f", name], timeout=60)
    except (OSError, subprocess.TimeoutExpired, EnvironmentSetupError):
        pass


def containers(label: str) -> list[str]:
    """Names of the containers (running or not) that carry `label`."""
    proc = checked(["ps", "-a", "--filter", f"label={label}", "--format", "{{.Names}}"], what="listing containers")
    return [ln for ln in proc.stdout.split() if ln]


def dangling_images() -> list[str]:
    """IDs of untagged images (`<none>`), e.g. left by an interrupted or repeated build."""
    proc = checked(["images", "-q", "--filter", "dangling=true"], what="listing images")
    return [ln for ln in proc.stdout.split() if ln]
