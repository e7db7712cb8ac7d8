"""The devices inventory: real boards reachable over SSH, read from `devices.toml` (edge_kit.documents).

    [ssh]                                   # optional, for every device
    known_hosts = "~/.ssh/known_hosts"      # UserKnownHostsFile
    config = "~/.ssh/config"                # ssh -F
    identity = "~/.ssh/id_ed25519"          # ssh -i (IdentitiesOnly)
    connect_timeout = 10

    [devices.pi-a]
    address = "pi@192.168.1.20"             # user@host[:port], or a Host alias of the ssh config
    target = "raspi4"                       # the target it represents (`edgekit targets`)
    concurrency = 1                         # profiling jobs it runs at once (1: honest timings)
    groups = ["raspi-lab"]
    python = "python3"                      # the device's interpreter

Path: `--devices-file`, else `$EDGEKIT_DEVICES`, else `~/.config/edgekit/devices.toml`.
A device may override `known_hosts`, `config`, `identity` and `connect_timeout`.
"""

from __future__ import annotations

import difflib
import os
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from edge_kit.documents.base import validated
from edge_kit.documents.devices import DeviceEntry, DevicesFile, SshOptions
from edge_kit.errors import UsageError
from edge_kit.remote import Address, SshClient, SshSettings, classify, parse_address

DEFAULT_PATH = Path("~/.config/edgekit/devices.toml")
ENV_VAR = "EDGEKIT_DEVICES"


@dataclass(frozen=True)
class Device:
    """One board: where it is, what target it stands for, how many jobs it takes at once."""

    name: str
    address: Address
    target: str | None = None
    concurrency: int = 1
    groups: tuple[str, ...] = ()
    python: str = "python3"
    description: str = ""
    ssh: SshSettings = field(default_factory=SshSettings)

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "address": str(self.address),
            "target": self.target,
            "concurrency": self.concurrency,
            "groups": list(self.groups),
            "python": self.python,
        }


@dataclass(frozen=True)
class Inventory:
    path: Path
    exists: bool
    devices: dict[str, Device]
    ssh: SshSettings = field(default_factory=SshSettings)

    def groups(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for device in self.devices.values():
            for group in device.groups:
                out.setdefault(group, []).append(device.name)
        return out

    def device(self, ref: str) -> Device:
        """A device by inventory name, else an ad-hoc `user@host[:port]` with the inventory's [ssh] settings."""
        if ref in self.devices:
            return self.devices[ref]
        if "@" not in ref and ":" not in ref and self.devices:
            close = difflib.get_close_matches(ref, list(self.devices), n=1)
            if close:
                raise UsageError(f"no device named '{ref}' in {self.path}", hint=f"did you mean '{close[0]}'?")
        address = parse_address(ref)
        return Device(name=str(address), address=address, ssh=self.ssh)

    def select(self, spec: str) -> list[Device]:
        """Devices of `spec`: a group, a device name, or a comma-separated mix ('all': every device)."""
        groups, chosen = self.groups(), {}
        for item in (s.strip() for s in spec.split(",") if s.strip()):
            names = (
                list(self.devices) if item == "all" else groups.get(item) or ([item] if item in self.devices else None)
            )
            if names is None:
                known = sorted(groups) + sorted(self.devices)
                close = difflib.get_close_matches(item, known, n=1)
                raise UsageError(
                    f"no device group or device named '{item}' in {self.path}",
                    hint=(f"did you mean '{close[0]}'? " if close else "")
                    + (f"known: {', '.join(known)}" if known else "see docs/devices.md for the format"),
                )
            chosen.update({n: self.devices[n] for n in names})
        if not chosen:
            raise UsageError(f"'{spec}' names no devices", hint="pass a group or device name from `edgekit devices`")
        return list(chosen.values())


def inventory_path(explicit: Path | None = None) -> Path:
    """--devices-file, else $EDGEKIT_DEVICES, else ~/.config/edgekit/devices.toml."""
    if explicit is not None:
        return Path(explicit).expanduser()
    env = os.environ.get(ENV_VAR)
    return Path(env).expanduser() if env else DEFAULT_PATH.expanduser()


def load_inventory(explicit: Path | None = None) -> Inventory:
    """The inventory; a missing default file is an empty one, a missing named file an error."""
    path = inventory_path(explicit)
    if not path.is_file():
        if explicit is not None or os.environ.get(ENV_VAR):
            raise UsageError(f"devices file {path} does not exist", hint="see docs/devices.md for the format")
        return Inventory(path, False, {})
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"cannot read devices file {path}: {' '.join(str(exc).split())[:200]}") from None
    document = validated(
        DevicesFile, data, f"devices file {path}", UsageError, hint="see docs/devices.md for the format"
    )
    base = _ssh_settings(document.ssh, SshSettings())
    devices = {name: _device(name, entry, base) for name, entry in document.devices.items()}
    return Inventory(path, True, devices, base)


def _ssh_settings(options: SshOptions, base: SshSettings) -> SshSettings:
    """`base` with the options a table sets (paths expanded)."""

    def given(value: str | None, default: Path | None) -> Path | None:
        return Path(value).expanduser() if value is not None else default

    return replace(
        base,
        known_hosts=given(options.known_hosts, base.known_hosts),
        config=given(options.config, base.config),
        identity=given(options.identity, base.identity),
        connect_timeout_s=options.connect_timeout or base.connect_timeout_s,
    )


def _device(name: str, entry: DeviceEntry, base: SshSettings) -> Device:
    return Device(
        name=name,
        address=parse_address(entry.address),
        target=entry.target,
        concurrency=entry.concurrency,
        groups=entry.groups,
        python=entry.python,
        description=entry.description,
        ssh=_ssh_settings(entry, base),
    )


@dataclass(frozen=True)
class Reachability:
    ok: bool
    status: str  # ok | unreachable | key refused | unknown host key | host key changed | timeout | error
    detail: str
    ms: float | None = None


def check(device: Device, timeout_s: float = 15.0) -> Reachability:
    """`ssh -o BatchMode=yes -o ConnectTimeout=5 host true`: can edgekit log in without a prompt?"""
    from edge_kit.errors import DeviceError

    settings = replace(device.ssh, connect_timeout_s=min(device.ssh.connect_timeout_s, 5))
    start = time.monotonic()
    try:
        result = SshClient(device.name, device.address, settings).run(
            "true", timeout_s=timeout_s, what="a login check", check_ssh=False
        )
    except DeviceError as exc:
        return Reachability(False, exc.fields.get("status", "error"), exc.message)
    ms = (time.monotonic() - start) * 1e3
    if result.returncode == 0:
        return Reachability(True, "ok", f"logged in in {ms:.0f} ms", round(ms, 1))
    if result.returncode == 255:
        status, detail = classify(result.stderr)
        return Reachability(False, status, detail)
    return Reachability(False, "error", f"`true` exited with {result.returncode} on the device")


def check_all(devices: list[Device]) -> dict[str, Reachability]:
    """Reachability of every device, checked concurrently."""
    if not devices:
        return {}
    with ThreadPoolExecutor(max_workers=min(16, len(devices))) as pool:
        return dict(zip((d.name for d in devices), pool.map(check, devices), strict=True))
