"""The JSON Schemas shipped in the wheel are the ones the models generate, and `edgekit schema` prints them."""

from __future__ import annotations

import json
import tomllib
from importlib import resources

import jsonschema
import pytest

from edge_kit.documents import MODELS, json_schema, shipped_schema
from edge_kit.errors import UsageError
from tests.conftest import assert_clean_error, run_cli
from tests.devices.test_inventory import GOOD


@pytest.mark.parametrize("name", sorted(MODELS))
def test_shipped_schemas_equal_the_generated_ones(name: str):
    """Regenerate with `python -m edge_kit.documents` after changing a model."""
    assert shipped_schema(name) == json_schema(name), f"schemas/{name}.json is stale"
    jsonschema.Draft202012Validator.check_schema(shipped_schema(name))


def test_every_shipped_schema_file_names_a_document():
    files = {e.name for e in resources.files("edge_kit.documents").joinpath("schemas").iterdir()}
    assert files == {f"{name}.json" for name in MODELS}


@pytest.mark.parametrize("package, name", [("edge_kit.targets_data", "target"), ("edge_kit.recipes_data", "recipe")])
def test_shipped_data_files_satisfy_their_json_schema(package: str, name: str):
    validator = jsonschema.Draft202012Validator(shipped_schema(name))
    tables = [
        tomllib.loads(e.read_text("utf-8")) for e in resources.files(package).iterdir() if e.name.endswith(".toml")
    ]
    assert tables
    for table in tables:
        validator.validate(table)
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({**tables[0], "colour": "red"})


def test_the_devices_schema_takes_the_documented_inventory():
    jsonschema.validate(tomllib.loads(GOOD), shipped_schema("devices"))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"devices": {"x": {"address": "h", "concurrency": 0}}}, shipped_schema("devices"))


def test_schema_command_lists_and_prints_one_document():
    listing = run_cli("schema")
    assert listing.code == 0 and [line.split()[0] for line in listing.stdout.splitlines()] == list(MODELS)
    printed = run_cli("schema", "recipe")
    assert printed.code == 0 and json.loads(printed.stdout) == shipped_schema("recipe")
    assert {d["name"] for d in json.loads(run_cli("schema", "--json").stdout)} == set(MODELS)
    assert_clean_error(run_cli("schema", "recipes"), 2, "unknown document 'recipes'", "known documents: target")


def test_an_unknown_document_is_a_usage_error():
    with pytest.raises(UsageError, match="known documents"):
        shipped_schema("nope")
