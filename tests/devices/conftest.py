"""A real loopback sshd whose devices are emulated arm64 boards (see loopback.py), for the session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.devices.loopback import SSHD, Loopback
from tests.generative.conftest import checkpoint, exported, raspi_profile  # noqa: F401  (session fixtures, shared)
from tests.profiler.conftest import digits_artifacts  # noqa: F401  (the session fixture, shared)

DEVICES = {
    "pi-a": ("arm", "raspi4"),
    "pi-b": ("arm", "raspi4"),
    "bare": ("bare", "raspi4"),
    "fresh": ("bare", "raspi4"),
    "nopython": ("nopython", "raspi4"),
    "crashy": ("crash", "raspi4"),
}


@pytest.fixture(scope="session")
def loopback(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loopback]:
    if not Path(SSHD).exists():
        pytest.skip(f"{SSHD} is missing (Debian package openssh-server; `make test` installs it)")
    server = Loopback(tmp_path_factory.mktemp("loopback"), DEVICES)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def inventory(loopback: Loopback) -> Path:
    """All loopback devices; pi-a and pi-b form the group 'lab'."""
    return loopback.inventory(loopback.root / "devices.toml", groups={"lab": ["pi-a", "pi-b"]})


@pytest.fixture()
def clean_devices(loopback: Loopback) -> Iterator[Loopback]:
    """Asserts after the test that no device kept anything in its TMPDIR or HOME."""
    yield loopback
    left = {name: d.leftovers() for name, d in loopback.devices.items() if d.leftovers()}
    assert not left, f"left behind on the devices: {left}"
