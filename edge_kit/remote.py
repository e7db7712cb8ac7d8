"""The system `ssh` and `scp` as a transport to a device: argument lists, timeouts, clear errors.

Host keys are always verified: edgekit never passes `StrictHostKeyChecking=no`, and
`BatchMode=yes` turns what would be a prompt (an unknown host key, a password) into a
failure that becomes one `DeviceError` line saying how to fix it. The user's
`~/.ssh/config`, keys and agent apply; an inventory may add `-F`, a known_hosts file
and an identity (`SshSettings`). Every call has a connect timeout, keep-alives and a
wall-clock timeout that kills the local ssh/scp.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from edge_kit.errors import DeviceError, UsageError

SSH, SCP = "ssh", "scp"
SSH_FAILED = 255  # ssh's own exit status for connection and authentication failures
_ADDRESS = re.compile(
    r"^(?:(?P<user>[A-Za-z0-9_][A-Za-z0-9._-]*)@)?"
    r"(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[A-Za-z0-9_][A-Za-z0-9._-]*))"
    r"(?::(?P<port>[0-9]{1,5}))?$"
)
UNREACHABLE_SIGNS = (
    "Connection refused",
    "Connection timed out",
    "No route to host",
    "Network is unreachable",
    "Could not resolve hostname",
    "Connection reset",
    "Connection closed",
    "timed out",
    "kex_exchange_identification",
    "Broken pipe",
)


@dataclass(frozen=True)
class Address:
    """`user@host[:port]` (host may be a `Host` alias from the ssh config)."""

    host: str
    user: str | None = None
    port: int | None = None

    def destination(self) -> str:
        return f"{self.user}@{self.host}" if self.user else self.host

    def scp_destination(self, path: str) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.user + '@' if self.user else ''}{host}:{path}"

    def known_hosts_name(self) -> str:
        """The name ssh files the host key under (`[host]:port` for a non-default port)."""
        return f"[{self.host}]:{self.port}" if self.port and self.port != 22 else self.host

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.user + '@' if self.user else ''}{host}{f':{self.port}' if self.port else ''}"


def parse_address(text: str) -> Address:
    """`user@host[:port]`, `host`, `user@[::1]:2222`; anything else is a UsageError."""
    match = _ADDRESS.match(text.strip())
    port = int(match["port"]) if match and match["port"] else None
    if match is None or (port is not None and not 0 < port < 65536):
        raise UsageError(f"'{text}' is not an SSH address", hint="use user@host[:port], e.g. pi@192.168.1.20:22")
    return Address(match["v6"] or match["host"], match["user"], port)


@dataclass(frozen=True)
class SshSettings:
    """Options every ssh/scp call gets (None: the user's own ssh defaults apply)."""

    config: Path | None = None  # ssh -F
    known_hosts: Path | None = None  # UserKnownHostsFile
    identity: Path | None = None  # -i, with IdentitiesOnly=yes
    connect_timeout_s: int = 10

    def options(self) -> list[str]:
        opts = [
            "-o",
            "BatchMode=yes",
            "-o",
            f"ConnectTimeout={self.connect_timeout_s}",
            "-o",
            "ServerAliveInterval=5",
            "-o",
            "ServerAliveCountMax=3",
        ]
        if self.config:
            opts = ["-F", str(self.config), *opts]
        if self.known_hosts:
            opts += ["-o", f"UserKnownHostsFile={self.known_hosts}"]
        if self.identity:
            opts += ["-i", str(self.identity), "-o", "IdentitiesOnly=yes"]
        return opts


def ssh_command(address: Address, settings: SshSettings, remote: str) -> list[str]:
    """`ssh ... -- user@host REMOTE` (REMOTE: one string the device's shell runs)."""
    port = ["-p", str(address.port)] if address.port else []
    return [SSH, *settings.options(), "-T", *port, "--", address.destination(), remote]


def scp_command(address: Address, settings: SshSettings, sources: list[Path], remote_dir: str) -> list[str]:
    """`scp -r ... SOURCES user@host:REMOTE_DIR/` (folders are copied recursively)."""
    port = ["-P", str(address.port)] if address.port else []
    return [
        SCP,
        *settings.options(),
        "-q",
        "-r",
        *port,
        "--",
        *map(str, sources),
        address.scp_destination(remote_dir.rstrip("/") + "/"),
    ]


@dataclass(frozen=True)
class RemoteResult:
    returncode: int
    stdout: str
    stderr: str
    wall_s: float


def classify(stderr: str) -> tuple[str, str]:
    """(status, detail) of a failed ssh/scp from its stderr: 'unknown host key', 'host key changed',
    'key refused', 'unreachable' or 'error'."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip() and not ln.startswith("@")]
    last = lines[-1] if lines else "no output"
    if "REMOTE HOST IDENTIFICATION HAS CHANGED" in stderr:
        return "host key changed", "the host key differs from the recorded one"
    if "Host key verification failed" in stderr or "host key is known" in stderr:
        return "unknown host key", "its host key is not in known_hosts"
    if "Permission denied" in stderr or "Too many authentication failures" in stderr:
        return "key refused", next((ln for ln in lines if "Permission denied" in ln), last)
    for sign in UNREACHABLE_SIGNS:
        if sign in stderr:
            return "unreachable", next(ln for ln in lines if sign in ln).removeprefix("ssh: ")
    return "error", last


def device_error(label: str, address: Address, settings: SshSettings, stderr: str) -> DeviceError:
    """One clear DeviceError (exit 12) for a connection or authentication failure."""
    status, detail = classify(stderr)
    label = label if label == str(address) else f"{label} ({address})"
    known = str(settings.known_hosts or "~/.ssh/known_hosts")
    port = f"-p {address.port} " if address.port else ""
    if status == "unknown host key":
        return DeviceError(
            f"the host key of {label} is not known",
            status=status,
            hint=f"verify its fingerprint, then add it: ssh-keyscan {port}{address.host} >> {known} "
            "(edgekit never turns host-key checking off)",
        )
    if status == "host key changed":
        return DeviceError(
            f"the host key of {label} changed since it was recorded (a re-installed device, or a man-in-the-middle)",
            status=status,
            hint=f"if the device was re-installed: ssh-keygen -f {known} -R "
            f"'{address.known_hosts_name()}', then add the new key after verifying it",
        )
    if status == "key refused":
        return DeviceError(
            f"{label} refused the key: {detail}",
            status=status,
            hint=f"install your public key there (ssh-copy-id {port}{address.destination()}), load it "
            "into ssh-agent, or set identity in devices.toml; edgekit never asks for passwords",
        )
    if status == "unreachable":
        return DeviceError(
            f"{label} is unreachable: {detail}",
            status=status,
            hint="check the address, the network and that sshd runs on the device "
            "(`edgekit devices` checks every device)",
        )
    return DeviceError(
        f"ssh to {label} failed: {detail[:200]}",
        status=status,
        hint=f"try it by hand: ssh {port}{address.destination()} true",
    )


class SshClient:
    """Runs commands on and copies files to one device; failures raise DeviceError."""

    def __init__(self, label: str, address: Address, settings: SshSettings) -> None:
        self.label, self.address, self.settings = label, address, settings

    def run(self, remote: str, *, timeout_s: float, what: str, check_ssh: bool = True) -> RemoteResult:
        """Run REMOTE (a shell command line) on the device; ssh's own failures raise DeviceError."""
        result = _run(
            ssh_command(self.address, self.settings, remote), timeout_s, f"{what} on {self.label} ({self.address})"
        )
        if check_ssh and result.returncode == SSH_FAILED:
            raise device_error(self.label, self.address, self.settings, result.stderr)
        return result

    def upload(self, sources: list[Path], remote_dir: str, *, timeout_s: float) -> None:
        """Copy files and folders into REMOTE_DIR on the device (scp, over SFTP)."""
        result = _run(
            scp_command(self.address, self.settings, sources, remote_dir),
            timeout_s,
            f"copying files to {self.label} ({self.address})",
        )
        if result.returncode != 0:
            raise device_error(self.label, self.address, self.settings, result.stderr)


def _run(cmd: list[str], timeout_s: float, what: str) -> RemoteResult:
    """Run ssh/scp with no stdin; past `timeout_s` its process group is killed (DeviceError)."""
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            start_new_session=True,
        )
    except FileNotFoundError:
        from edge_kit.errors import EnvironmentSetupError

        raise EnvironmentSetupError(
            f"the {cmd[0]} client is not installed", hint="apt-get install openssh-client"
        ) from None
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except BaseException as exc:
        _kill(proc)
        proc.communicate()
        if isinstance(exc, subprocess.TimeoutExpired):
            raise DeviceError(
                f"{what} did not finish within {timeout_s:.0f} s",
                status="timeout",
                hint="check the device's load and network, or raise --timeout",
            ) from None
        raise
    return RemoteResult(proc.returncode, out, err, time.monotonic() - start)


def _kill(proc: subprocess.Popen[str]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
