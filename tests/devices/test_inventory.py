"""The devices inventory (devices.toml) and `edgekit devices`."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from edge_kit.devices import inventory_path, load_inventory
from edge_kit.errors import UsageError
from edge_kit.remote import Address, SshSettings, parse_address, scp_command, ssh_command
from tests.conftest import assert_clean_error, run_cli
from tests.devices.loopback import Loopback, free_port

GOOD = """
[ssh]
known_hosts = "~/kh"
connect_timeout = 7

[devices.pi-a]
address = "pi@10.0.0.5:2222"
target = "raspi"
groups = ["lab", "pi4"]

[devices.pi-b]
address = "pi@10.0.0.6"
target = "raspi5"
concurrency = 2
groups = ["lab"]
identity = "~/.ssh/lab"
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "devices.toml"
    path.write_text(text)
    return path


def test_inventory_is_validated_into_frozen_dataclasses(tmp_path: Path):
    inv = load_inventory(_write(tmp_path, GOOD))
    a, b = inv.devices["pi-a"], inv.devices["pi-b"]
    assert a.address == Address("10.0.0.5", "pi", 2222) and a.target == "raspi4" and a.concurrency == 1
    assert b.target == "raspi5" and b.concurrency == 2 and b.address.port is None
    assert a.ssh.known_hosts == Path("~/kh").expanduser() and a.ssh.connect_timeout_s == 7 and a.ssh.identity is None
    assert b.ssh.identity == Path("~/.ssh/lab").expanduser() and b.ssh.known_hosts == a.ssh.known_hosts
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.concurrency = 3  # type: ignore[misc]
    assert inv.groups() == {"lab": ["pi-a", "pi-b"], "pi4": ["pi-a"]}
    assert [d.name for d in inv.select("lab")] == ["pi-a", "pi-b"]
    assert [d.name for d in inv.select("pi4,pi-b")] == ["pi-a", "pi-b"]
    assert [d.name for d in inv.select("all")] == ["pi-a", "pi-b"]
    adhoc = inv.device("root@[::1]:22")
    assert adhoc.address == Address("::1", "root", 22) and adhoc.ssh == inv.ssh and adhoc.target is None


@pytest.mark.parametrize(
    "text, needle",
    [
        ('[devices.x]\naddress = "h"\nport = 22\n', "unknown field 'port'"),
        ('[devices.x]\ntarget = "raspi4"\n', "'address'"),
        ('[devices.x]\naddress = "-oProxyCommand=evil"\n', "not an SSH address"),
        ('[devices.x]\naddress = "h"\ntarget = "raspi9"\n', "raspi9"),
        ('[devices.x]\naddress = "h"\nconcurrency = 0\n', "concurrency"),
        ('[ssh]\naddress = "h"\n', "unknown field 'address'"),
        ("[devices.x\n", "cannot read"),
    ],
)
def test_bad_inventories_are_one_clear_usage_error(tmp_path: Path, text: str, needle: str):
    with pytest.raises(UsageError, match="") as err:
        load_inventory(_write(tmp_path, text))
    assert needle in err.value.one_line() and "\n" not in err.value.one_line()


def test_unknown_group_names_the_closest(tmp_path: Path):
    inv = load_inventory(_write(tmp_path, GOOD))
    with pytest.raises(UsageError, match="did you mean 'lab'"):
        inv.select("lba")
    with pytest.raises(UsageError, match="did you mean 'pi-a'"):
        inv.device("pi-aa")


def test_inventory_path_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("EDGEKIT_DEVICES", raising=False)
    assert inventory_path() == Path("~/.config/edgekit/devices.toml").expanduser()
    monkeypatch.setenv("EDGEKIT_DEVICES", str(tmp_path / "env.toml"))
    assert inventory_path() == tmp_path / "env.toml"
    assert inventory_path(tmp_path / "x.toml") == tmp_path / "x.toml"
    with pytest.raises(UsageError, match="does not exist"):
        load_inventory()  # named by the environment: must exist
    monkeypatch.setenv("EDGEKIT_DEVICES", "")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert load_inventory().devices == {}  # the default file may be missing


def test_ssh_and_scp_argument_lists():
    settings = SshSettings(config=Path("/c"), known_hosts=Path("/k"), identity=Path("/i"), connect_timeout_s=4)
    ssh = ssh_command(parse_address("pi@h:2200"), settings, "true")
    assert ssh[:3] == ["ssh", "-F", "/c"] and ssh[-3:] == ["--", "pi@h", "true"] and ["-p", "2200"] == ssh[-5:-3]
    assert {"BatchMode=yes", "ConnectTimeout=4", "UserKnownHostsFile=/k", "IdentitiesOnly=yes"} <= set(ssh)
    scp = scp_command(parse_address("pi@[fe80::1]:2200"), settings, [Path("/a"), Path("/b")], "/tmp/edgekit.x")
    assert ["-P", "2200"] == scp[scp.index("-P") :][:2]
    assert scp[-4:] == ["--", "/a", "/b", "pi@[fe80::1]:/tmp/edgekit.x/"]


def test_devices_command_lists_reachability(loopback: Loopback, tmp_path: Path):
    inv = loopback.inventory(tmp_path / "d.toml", ["pi-a", "nopython"], groups={"lab": ["pi-a"]})
    dead = f'\n[devices.dead]\naddress = "root@127.0.0.1:{free_port()}"\ngroups = ["lab"]\n'
    inv.write_text(inv.read_text() + dead)
    result = run_cli("devices", "--devices-file", inv, "--json")
    assert result.code == 0, result.stderr
    rows = {d["name"]: d for d in json.loads(result.stdout)["devices"]}
    assert rows["pi-a"]["reachable"]["ok"] and rows["nopython"]["reachable"]["ok"]  # ssh works; python is not checked
    assert rows["dead"]["reachable"] == {**rows["dead"]["reachable"], "ok": False, "status": "unreachable"}
    text = run_cli("devices", "--devices-file", inv, "--group", "lab")
    assert text.code == 0 and "pi-a" in text.stdout and "nopython" not in text.stdout
    assert "NO: unreachable" in text.stdout and "Connection refused" in text.stdout
    unknown = loopback.inventory(tmp_path / "u.toml", ["pi-a"], known_hosts="empty_known_hosts")
    row = json.loads(run_cli("devices", "--devices-file", unknown, "--json").stdout)["devices"][0]
    assert row["reachable"]["status"] == "unknown host key"


def test_devices_command_errors(tmp_path: Path):
    assert_clean_error(run_cli("devices", "--devices-file", tmp_path / "none.toml"), 2, "does not exist")
    assert_clean_error(
        run_cli("devices", "--devices-file", _write(tmp_path, GOOD), "--group", "nolab"),
        2,
        "no device group or device named 'nolab'",
    )
