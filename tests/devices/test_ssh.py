"""The ssh backend through a real sshd on 127.0.0.1 whose device runs arm64 Python under QEMU."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge_kit import remote
from edge_kit.errors import DeviceError, EnvironmentSetupError
from edge_kit.profiler import ProfileRequest, profile
from edge_kit.profiler import provision as prov
from tests.conftest import assert_clean_error, run_cli
from tests.devices.loopback import Loopback


def _keys(report: dict, section: str | None = None) -> list[str]:
    return list(report[section] if section else report)


@pytest.mark.parametrize("fmt", ["onnx", "tflite", "executorch"])
def test_profiles_on_the_device_end_to_end(digits_artifacts: dict, inventory: Path, clean_devices: Loopback, fmt: str):
    report = profile(ProfileRequest(artifact=digits_artifacts[fmt], device="pi-a", devices_file=inventory, num_runs=3))
    backend = report["backend"]
    assert backend["name"] == "ssh" and backend["emulated"] is False and backend["device"] == "pi-a"
    assert backend["address"] == clean_devices.devices["pi-a"].address and backend["environment"] == "system"
    assert report["target"]["name"] == "raspi4"  # the inventory's target for pi-a
    lat = report["latency"]
    assert lat["kind"] == "measured" and "pi-a" in lat["note"] and lat["count"] == 3
    assert 0 < lat["min_ms"] <= lat["p50_ms"] <= lat["max_ms"]
    machine = report["machine"]  # what the harness saw on the device: a real aarch64 python
    assert machine["machine"] == "aarch64" and machine["cpu"]["parts"] == ["0xd08"]
    assert report["instructions"] is None and report["estimate"] is None
    assert report["runtime"]["name"] == {"onnx": "onnxruntime", "tflite": "litert", "executorch": "executorch"}[fmt]


def test_a_decoder_generates_on_the_device_the_tokens_it_generates_under_qemu(
    exported, raspi_profile: dict, inventory: Path, clean_devices: Loopback
):
    settings = {"prompt_len": 8, "new_tokens": 6, "num_runs": 1, "warmup_runs": 0}
    report = profile(ProfileRequest(artifact=exported[0], device="pi-a", devices_file=inventory, **settings))
    assert report["schema"] == "edgekit.generation-profile" and report["backend"]["name"] == "ssh"
    assert report["kind"] == report["decode"]["kind"] == "measured" and "pi-a" in report["note"]
    assert report["decode"]["tokens"] == raspi_profile["decode"]["tokens"]
    assert report["prefill"]["ttft_p50_ms"] > 0 and report["memory"]["peak_rss_kb"] > 0


def test_the_report_has_the_qemu_backends_schema(digits_artifacts: dict, inventory: Path):
    art = digits_artifacts["onnx"]
    ssh = profile(ProfileRequest(artifact=art, device="pi-b", devices_file=inventory, num_runs=2))
    qemu = profile(ProfileRequest(artifact=art, target="raspi4", num_runs=2, count_instructions=False))
    assert _keys(ssh) == _keys(qemu)
    for section in ("artifact", "target", "settings", "runtime", "latency", "memory", "ops", "machine"):
        assert _keys(ssh, section) == _keys(qemu, section), section
    assert ssh["schema"] == qemu["schema"] == "edgekit.profile"
    assert ssh["outputs"][0]["shape"] == qemu["outputs"][0]["shape"]
    assert ssh["runtime"]["version"] == qemu["runtime"]["version"] == "1.31.1"


def test_cli_takes_an_address_and_writes_the_report_folder(
    digits_artifacts: dict, inventory: Path, clean_devices: Loopback, tmp_path: Path
):
    address = clean_devices.devices["pi-a"].address  # not a name: the inventory's [ssh] settings apply
    result = run_cli(
        "profile",
        digits_artifacts["tflite"],
        "--device",
        address,
        "--target",
        "raspi4",
        "--devices-file",
        inventory,
        "--num_runs",
        "2",
        "--report",
        tmp_path / "r",
        "--json",
    )
    assert result.code == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert report == json.loads((tmp_path / "r" / "profile.json").read_text())
    assert report["backend"]["device"] == address and report["machine"]["machine"] == "aarch64"
    assert "measured on the device" in (tmp_path / "r" / "profile.md").read_text()


def test_every_ssh_and_scp_call_verifies_host_keys(
    digits_artifacts: dict, inventory: Path, monkeypatch: pytest.MonkeyPatch
):
    calls: list[list[str]] = []
    real = remote._run
    monkeypatch.setattr(remote, "_run", lambda cmd, *a, **k: calls.append(cmd) or real(cmd, *a, **k))
    profile(ProfileRequest(artifact=digits_artifacts["onnx"], device="pi-a", devices_file=inventory, num_runs=1))
    assert [c[0] for c in calls] == ["ssh", "scp", "ssh"]  # probe, copy, run (its trap cleans up)
    for cmd in calls:
        text = " ".join(cmd).lower()
        assert "stricthostkeychecking" not in text and "userknownhostsfile=/dev/null" not in text
        assert "BatchMode=yes" in cmd and any(a.startswith("ConnectTimeout=") for a in cmd)
        assert "ServerAliveInterval=5" in cmd


def test_unreachable_host_is_a_clear_error(digits_artifacts: dict, inventory: Path):
    from tests.devices.loopback import free_port

    result = run_cli(
        "profile",
        digits_artifacts["onnx"],
        "--device",
        f"root@127.0.0.1:{free_port()}",
        "--devices-file",
        inventory,
        timeout=120,
    )
    assert_clean_error(result, 12, "unreachable", "connection refused")


def test_refused_key_is_a_clear_error(digits_artifacts: dict, loopback: Loopback, tmp_path: Path):
    inv = loopback.inventory(tmp_path / "wrong-key.toml", ["pi-a"], identity="wrong_key")
    assert_clean_error(
        run_cli("profile", digits_artifacts["onnx"], "--device", "pi-a", "--devices-file", inv),
        12,
        "refused the key",
        "ssh-copy-id",
    )


def test_unknown_host_key_is_a_clear_error_saying_how_to_add_it(
    digits_artifacts: dict, loopback: Loopback, tmp_path: Path
):
    inv = loopback.inventory(tmp_path / "empty-known-hosts.toml", ["pi-a"], known_hosts="empty_known_hosts")
    port = loopback.devices["pi-a"].port
    assert_clean_error(
        run_cli("profile", digits_artifacts["onnx"], "--device", "pi-a", "--devices-file", inv),
        12,
        "host key of pi-a",
        "is not known",
        f"ssh-keyscan -p {port} 127.0.0.1 >>",
        "never turns host-key checking off",
    )
    assert (loopback.root / "empty_known_hosts").read_text() == ""  # nothing was added behind the user's back


def test_missing_remote_python_is_a_clear_error(digits_artifacts: dict, inventory: Path, clean_devices: Loopback):
    assert_clean_error(
        run_cli("profile", digits_artifacts["onnx"], "--device", "nopython", "--devices-file", inventory),
        12,
        "nopython has no python3",
        "apt-get install python3",
    )


def test_missing_runtime_says_exactly_what_to_install(digits_artifacts: dict, inventory: Path, clean_devices: Loopback):
    result = run_cli("profile", digits_artifacts["onnx"], "--device", "bare", "--devices-file", inventory)
    assert_clean_error(
        result,
        12,
        "lacks numpy and onnxruntime",
        "python3 -m pip install numpy==2.4.6 onnxruntime==1.31.1",
        "--provision",
    )


def test_a_remote_crash_is_a_clear_error(digits_artifacts: dict, inventory: Path, clean_devices: Loopback):
    result = run_cli("profile", digits_artifacts["onnx"], "--device", "crashy", "--devices-file", inventory)
    assert_clean_error(result, 9, "crashed with SIGSEGV", "while importing onnxruntime")


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--backend", "ssh"], "the ssh backend needs a device"),
        (["--provision"], "--provision needs a device"),
        (["--device", "pi@h", "--backend", "qemu"], "need the ssh backend, not qemu"),
        (["--device", "pi@h:99999"], "not an SSH address"),
    ],
)
def test_contradictory_device_options_are_usage_errors(digits_artifacts: dict, args: list, needle: str):
    assert_clean_error(run_cli("profile", digits_artifacts["onnx"], *args), 2, needle)


def test_download_command_pins_the_wheels_for_the_devices_python():
    cmd = prov.download_command(Path("/w"), "3.11.2", "aarch64", "glibc 2.31")
    assert ["--python-version", "3.11"] == cmd[cmd.index("--python-version") :][:2]
    assert "--only-binary=:all:" in cmd and "--no-deps" in cmd and ["--abi", "cp311"] == cmd[cmd.index("--abi") :][:2]
    platforms = [cmd[i + 1] for i, a in enumerate(cmd) if a == "--platform"]
    assert platforms[0] == "manylinux_2_31_aarch64" and "manylinux_2_17_aarch64" in platforms
    assert "manylinux_2_32_aarch64" not in platforms and platforms[-2:] == ["manylinux2014_aarch64", "linux_aarch64"]
    assert {f"{n}=={v}" for n, v in prov.pins().items()} <= set(cmd)
    assert prov.needed(Path("m.tflite")) == {"numpy": "2.4.6", "ai-edge-litert": "2.3.0"}
    assert prov.needed(Path("m.pte")) == {"numpy": "2.4.6"}


def test_provision_installs_the_pinned_wheels_privately_without_network_on_the_device(
    digits_artifacts: dict, inventory: Path, loopback: Loopback
):
    try:
        prov.device_wheels("3.11", "aarch64", "glibc 2.36")  # host side, cached once
    except EnvironmentSetupError as exc:
        pytest.skip(f"the pinned aarch64 wheels cannot be downloaded here: {exc}")
    with pytest.raises(DeviceError, match="lacks numpy and ai-edge-litert"):
        profile(ProfileRequest(artifact=digits_artifacts["tflite"], device="fresh", devices_file=inventory))
    report = profile(
        ProfileRequest(
            artifact=digits_artifacts["tflite"], device="fresh", devices_file=inventory, provision=True, num_runs=2
        )
    )
    device = loopback.devices["fresh"]
    private = device.home / ".cache" / "edgekit-device" / f"{prov.pins_key()}-cp311-aarch64"
    assert report["backend"]["environment"] == str(private) and report["backend"]["provisioned"] is True
    assert report["backend"]["packages"] == {"numpy": "2.4.6", "ai-edge-litert": "2.3.0"}
    assert (private / "complete").is_file() and (private / "site" / "onnxruntime").is_dir()
    again = profile(
        ProfileRequest(artifact=digits_artifacts["onnx"], device="fresh", devices_file=inventory, num_runs=1)
    )  # later runs use the provisioned folder
    assert again["backend"]["environment"] == str(private) and again["runtime"]["version"] == "1.31.1"
    assert device.leftovers() == []  # only the provisioned folder stays
