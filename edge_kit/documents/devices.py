"""The devices inventory (`devices.toml`): real boards reachable over SSH, and how to reach them.

The document as written; `edge_kit.devices` turns it into `Device` objects (parsed
addresses, expanded paths, settings inherited from [ssh]). Layout: docs/devices.md.
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from edge_kit.documents.base import Document, Rule, Tup

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def _plain(names: list[str] | tuple[str, ...], verb: str) -> None:
    bad = [n for n in names if not _NAME.match(n)]
    if bad:
        raise Rule(f"must {verb} plain names (letters, digits, . _ -), not {', '.join(map(repr, bad))}")


class SshOptions(Document):
    """ssh options for every device ([ssh]) or one device (None: the user's own ssh defaults)."""

    known_hosts: str | None = Field(default=None, min_length=1, description="UserKnownHostsFile")
    config: str | None = Field(default=None, min_length=1, description="ssh -F")
    identity: str | None = Field(default=None, min_length=1, description="ssh -i (IdentitiesOnly)")
    connect_timeout: int | None = Field(default=None, ge=1, le=300, description="seconds")


class DeviceEntry(SshOptions):
    """[devices.NAME]: one board and the target it stands for."""

    address: str = Field(description="user@host[:port], or a Host alias of the ssh config")
    target: str | None = Field(default=None, description="the target it represents (`edgekit targets`)")
    concurrency: int = Field(default=1, ge=1, le=64, description="profiling jobs at once (1: honest timings)")
    groups: Tup[str] = ()
    python: str = Field(default="python3", description="the device's interpreter (a program name or path)")
    description: str = ""

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        from edge_kit.errors import UsageError
        from edge_kit.remote import parse_address

        try:
            parse_address(value)
        except UsageError as exc:
            raise Rule(exc.message, hint=exc.hint) from None
        return value

    @field_validator("target")
    @classmethod
    def _target(cls, value: str | None) -> str | None:
        """The canonical name of a known target (an alias is resolved; an unknown name lists the known)."""
        from edge_kit.errors import UsageError
        from edge_kit.targets import get_target

        try:
            return None if value is None else get_target(value).name
        except UsageError as exc:
            raise Rule(exc.message, hint=exc.hint) from None

    @field_validator("python")
    @classmethod
    def _program(cls, value: str) -> str:
        if not value or any(c.isspace() for c in value):
            raise Rule("must be a program name or path without spaces")
        return value

    @field_validator("groups")
    @classmethod
    def _groups(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        _plain(value, "be")
        return value


class DevicesFile(Document):
    """The whole inventory: shared [ssh] options and the [devices.NAME] tables."""

    ssh: SshOptions = SshOptions()
    devices: dict[str, DeviceEntry] = {}

    @field_validator("devices")
    @classmethod
    def _names(cls, value: dict[str, DeviceEntry]) -> dict[str, DeviceEntry]:
        _plain(list(value), "have")
        return value
