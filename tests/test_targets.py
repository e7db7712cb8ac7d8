from pathlib import Path

import pytest

from edge_kit.errors import UsageError
from edge_kit.targets import _load_all, all_targets, get_target


def test_shipped_targets_parse_with_the_required_fields():
    targets = all_targets()
    assert {"raspi4", "raspi5", "jetson-nano", "android-arm64", "aarch64", "host"} <= set(targets)
    assert get_target("raspi").qemu_cpu == "cortex-a72"
    assert get_target("raspi5").qemu_cpu == "cortex-a76" and get_target("raspi5").isa["dotprod"]
    assert get_target("jetson-nano").qemu_cpu == "cortex-a57"
    assert get_target("pixel4").name == "android-arm64"
    assert get_target("raspi4").clock_options_ghz == (1.5, 1.8)
    for target in targets.values():
        assert target.preferred_formats and target.default_precision in ("fp32", "fp16", "int8-dynamic", "int8")
        if target.arch == "aarch64":
            assert sum(c.count for c in target.cpuinfo) == target.cores


def test_unknown_target_names_the_known_ones_and_the_closest():
    with pytest.raises(UsageError) as err:
        get_target("raspi6")
    line = err.value.one_line()
    assert "unknown target 'raspi6'" in line and "did you mean" in line and "jetson-nano" in line


def test_user_target_folder_adds_and_validates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    text = Path(__file__).parents[1].joinpath("targets", "raspi5.toml").read_text()
    (tmp_path / "myboard.toml").write_text(
        text.replace('name = "raspi5"', 'name = "myboard"').replace('aliases = ["rpi5", "pi5"]', "aliases = []")
    )
    monkeypatch.setenv("EDGEKIT_TARGETS_PATH", str(tmp_path))
    assert get_target("myboard").qemu_cpu == "cortex-a76"
    (tmp_path / "bad.toml").write_text(text.replace('name = "raspi5"', 'name = "bad"\ncolour = "red"'))
    _load_all.cache_clear()
    with pytest.raises(UsageError, match="unknown field"):
        all_targets()
    _load_all.cache_clear()
