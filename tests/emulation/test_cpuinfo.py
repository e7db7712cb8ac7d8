"""Rendering the target's /proc/cpuinfo and /sys CPU files, and the per-target views."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from edge_kit.emulation.cpuinfo import core_count, guest_files, midr, render_cpuinfo, render_sysfs
from edge_kit.emulation.view import ensure_view
from edge_kit.errors import UsageError
from edge_kit.targets import get_target


def _blocks(text: str) -> list[dict[str, str]]:
    blocks = []
    for chunk in text.strip().split("\n\n"):
        blocks.append({k.strip(): v.strip() for k, _, v in (ln.partition(":") for ln in chunk.splitlines())})
    return blocks


def test_raspi4_cpuinfo_has_four_cortex_a72_cores() -> None:
    blocks = _blocks(render_cpuinfo(get_target("raspi4")))
    assert [b["processor"] for b in blocks] == ["0", "1", "2", "3"]
    for block in blocks:
        assert block["CPU implementer"] == "0x41" and block["CPU part"] == "0xd08"
        assert block["CPU architecture"] == "8" and block["CPU revision"] == "3"
        assert block["Features"] == "fp asimd evtstrm crc32 cpuid"
        assert "BogoMIPS" in block


def test_kernel_layout_is_exact() -> None:
    first = render_cpuinfo(get_target("raspi5")).split("\n\n")[0]
    assert first.splitlines() == [
        "processor\t: 0",
        "BogoMIPS\t: 108.00",
        "Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid "
        "asimdrdm lrcpc dcpop asimddp",
        "CPU implementer\t: 0x41",
        "CPU architecture: 8",
        "CPU variant\t: 0x4",
        "CPU part\t: 0xd0b",
        "CPU revision\t: 1",
    ]


def test_big_little_phone_lists_both_clusters_in_order() -> None:
    target = get_target("android-arm64")
    parts = [b["CPU part"] for b in _blocks(render_cpuinfo(target))]
    assert parts == ["0x804"] * 4 + ["0x805"] * 4  # big cores first: see targets/android-arm64.toml
    sysfs = render_sysfs(target)
    assert sysfs["possible"] == "0-7\n" and sysfs["online"] == "0-7\n"
    assert sysfs["cpu2/topology/cluster_cpus_list"] == "0-3\n"
    assert sysfs["cpu5/topology/cluster_cpus_list"] == "4-7\n"
    assert sysfs["cpu5/topology/cluster_id"] == "1\n"
    assert core_count(target) == 8


def test_midr_matches_the_real_chips() -> None:
    # MIDR_EL1 as the kernels of a Raspberry Pi 4 and 5 report it.
    assert f"0x{midr(get_target('raspi4').cpuinfo[0]):08x}" == "0x410fd083"
    assert f"0x{midr(get_target('raspi5').cpuinfo[0]):08x}" == "0x414fd0b1"
    sysfs = render_sysfs(get_target("raspi5"))
    assert sysfs["cpu3/regs/identification/midr_el1"] == "0x00000000414fd0b1\n"
    assert sysfs["cpu0/cpufreq/cpuinfo_max_freq"] == "2400000\n"


def test_native_target_has_no_emulated_cpu() -> None:
    with pytest.raises(UsageError, match="no emulated CPU description"):
        render_cpuinfo(get_target("host"))


def _fake_rootfs(root: Path) -> Path:
    for name in ("usr/bin", "etc", "lib", "var", "dev", "tmp"):
        (root / name).mkdir(parents=True)
    (root / "usr/bin/python3.11").write_bytes(b"\x7fELF")
    return root


def test_view_links_the_shared_tree_and_adds_only_cpu_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGEKIT_CACHE_DIR", str(tmp_path / "cache"))
    rootfs = _fake_rootfs(tmp_path / "root")
    view = ensure_view(get_target("raspi4"), rootfs)
    assert (view / "usr").is_symlink() and (view / "usr/bin/python3.11").read_bytes() == b"\x7fELF"
    assert not (view / "dev").exists() and not (view / "tmp").exists()  # the host's are used
    assert (view / "proc/cpuinfo").read_text() == render_cpuinfo(get_target("raspi4"))
    own_files = [
        os.path.relpath(os.path.join(folder, name), view)  # os.walk skips linked dirs
        for folder, _, names in os.walk(view)
        for name in names
    ]
    assert sorted(own_files) == sorted(guest_files(get_target("raspi4")))
    other = ensure_view(get_target("raspi5"), rootfs)
    assert other != view and "0xd0b" in (other / "proc/cpuinfo").read_text()
    assert ensure_view(get_target("raspi4"), rootfs) == view  # reused


def test_damaged_view_is_remade(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGEKIT_CACHE_DIR", str(tmp_path / "cache"))
    rootfs = _fake_rootfs(tmp_path / "root")
    view = ensure_view(get_target("raspi4"), rootfs)
    (view / "proc/cpuinfo").write_text("processor : 0\n")
    os.unlink(view / "usr")
    again = ensure_view(get_target("raspi4"), rootfs)
    assert again == view and (again / "usr").is_symlink()
    assert (again / "proc/cpuinfo").read_text() == render_cpuinfo(get_target("raspi4"))
