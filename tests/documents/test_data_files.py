"""Targets, recipes and the devices inventory as typed documents: every shipped file is accepted,
unknown fields and wrong types are one-line errors (exit 2) naming the file and the field path."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from edge_kit.devices import load_inventory
from edge_kit.documents.recipe import Recipe
from edge_kit.documents.target import Target
from edge_kit.errors import UsageError
from edge_kit.recipes import parse
from edge_kit.targets import _parse


def _shipped(package: str) -> dict[str, dict[str, Any]]:
    return {
        entry.name: tomllib.loads(entry.read_text("utf-8"))
        for entry in resources.files(package).iterdir()
        if entry.name.endswith(".toml")
    }


TARGETS = _shipped("edge_kit.targets_data")
RECIPES = _shipped("edge_kit.recipes_data")


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_every_shipped_target_is_a_target(name: str):
    target = _parse(TARGETS[name], name)
    assert isinstance(target, Target) and target.source == name
    assert target.model_dump(exclude_defaults=True).keys() <= TARGETS[name].keys()


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_every_shipped_recipe_is_a_recipe(name: str):
    recipe = parse(RECIPES[name], name)
    assert isinstance(recipe, Recipe) and recipe.origin == name and recipe.name == name.removesuffix(".toml")


def _error(call: Any, *args: Any) -> str:
    with pytest.raises(UsageError) as err:
        call(*args)
    assert err.value.exit_code == 2
    line = err.value.one_line()
    assert "\n" not in line
    return line


RASPI4 = TARGETS["raspi4.toml"]
MICROARCH = RASPI4["microarch"]


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"colour": "red"}, "target file foo.toml: unknown field 'colour' — known fields: aliases, arch,"),
        ({"clock_ghz": "1.5"}, "target file foo.toml: clock_ghz must be a number, not a string"),
        ({"clock_ghz": True}, "target file foo.toml: clock_ghz must be a number, not a boolean"),
        ({"cores": 4.5}, "target file foo.toml: cores must be an integer, not a number"),
        ({"aliases": ["pi", 4]}, "target file foo.toml: aliases[1] must be a string, not an integer"),
        ({"aliases": "pi"}, "target file foo.toml: aliases must be a list of strings, not a string"),
        ({"isa": {"neon": True, "avx": True}}, "target file foo.toml: isa: unknown key 'avx'"),
        ({"preferred_formats": ["coreml"]}, "target file foo.toml: preferred_formats must be a non-empty list of"),
        ({"default_precision": "int4"}, "target file foo.toml: default_precision must be one of 'fp32',"),
        ({"cores": 8}, "target file foo.toml: the cpuinfo clusters count 4 cores but cores = 8"),
        ({"cpuinfo": [{"part": "0xd08"}]}, "target file foo.toml: cpuinfo[0]: missing fields 'implementer',"),
        (
            {"microarch": {**MICROARCH, "cycles_per_insn": {**MICROARCH["cycles_per_insn"], "neon_fp": "1"}}},
            "target file foo.toml: microarch.cycles_per_insn.neon_fp must be a number, not a string",
        ),
        ({"microarch": {**MICROARCH, "speed": 2}}, "target file foo.toml: microarch: unknown field 'speed'"),
        ({"microarch": {**MICROARCH, "dram_gbps": 0}}, "target file foo.toml: microarch.dram_gbps must be greater"),
        ({"microarch": {**MICROARCH, "compute_cores": 6}}, "target file foo.toml: microarch.compute_cores (6) exceeds"),
    ],
)
def test_target_problems_name_the_file_and_the_field(change: dict[str, Any], expected: str):
    assert _error(_parse, {**RASPI4, **change}, "foo.toml").startswith(expected)


def test_a_missing_target_field_is_named():
    table = {k: v for k, v in RASPI4.items() if k not in ("os", "qemu_cpu")}
    assert _error(_parse, table, "foo.toml") == "target file foo.toml: missing fields 'qemu_cpu', 'os'"


PERCENTILE = RECIPES["onnx_int8_static_qdq_per_channel_percentile.toml"]


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"colour": "red"}, "recipe file r.toml: unknown field 'colour' — known fields:"),
        ({"per_channel": "yes"}, "recipe file r.toml: per_channel must be true or false, not a string"),
        ({"calibration_samples": True}, "recipe file r.toml: calibration_samples must be an integer, not a boolean"),
        ({"percentile": 101}, "recipe file r.toml: percentile must be less than or equal to 100"),
        ({"sources": ["torch", 1]}, "recipe file r.toml: sources[1] must be a string, not an integer"),
        (
            {"sources": ["caffe"]},
            "recipe file r.toml: sources must be a non-empty list of jax, onnx, tensorflow, tflite, torch",
        ),
        ({"weight_type": "int4"}, "recipe file r.toml: weight_type must be one of 'float32', 'float16', 'int8'"),
        ({"preprocess": {"std": [0.5, 0]}}, "recipe file r.toml: preprocess.std must be non-zero"),
        ({"preprocess": {"mean": ["0.5"]}}, "recipe file r.toml: preprocess.mean[0] must be a number, not a string"),
        ({"preprocess": {"gamma": 2}}, "recipe file r.toml: preprocess: unknown field 'gamma'"),
        ({"calibration_method": "histogram"}, "recipe file r.toml: calibration_method 'histogram' is not available"),
        ({"precision": "int8-dynamic"}, "recipe file r.toml: int8 (static) recipes need calibration_method"),
    ],
)
def test_recipe_problems_name_the_file_and_the_field(change: dict[str, Any], expected: str):
    assert _error(parse, {**PERCENTILE, **change}, "r.toml").startswith(expected)


@pytest.mark.parametrize(
    "text, expected",
    [
        ('[devices.x]\naddress = "h"\nport = 22\n', "devices.x: unknown field 'port' — known fields: address,"),
        ('[devices.x]\ntarget = "raspi4"\n', "devices.x: missing field 'address'"),
        ('[devices.x]\naddress = "h"\nconcurrency = "2"\n', "devices.x.concurrency must be an integer, not a string"),
        ('[devices.x]\naddress = "h"\ngroups = ["a b"]\n', "devices.x.groups must be plain names"),
        ('[devices.x]\naddress = "h"\ntarget = "raspi9"\n', "devices.x.target: unknown target 'raspi9'"),
        ("[ssh]\nconnect_timeout = 0\n", "ssh.connect_timeout must be greater than or equal to 1"),
        ("devices = 3\n", "devices must be a table, not an integer"),
    ],
)
def test_inventory_problems_name_the_file_and_the_field(tmp_path: Path, text: str, expected: str):
    path = tmp_path / "devices.toml"
    path.write_text(text)
    assert _error(load_inventory, path).startswith(f"devices file {path}: {expected}")
