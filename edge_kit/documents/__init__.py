"""Typed documents: every file edgekit reads or writes as a pydantic model, and its JSON Schema.

`MODELS` names them; `json_schema(name)` generates one schema from its model, and the
shipped copies under `schemas/` (inside the wheel) are those generated schemas, written by
`python -m edge_kit.documents` and checked equal by the tests.
"""

from __future__ import annotations

import importlib
import json
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge_kit.errors import UsageError

if TYPE_CHECKING:
    from pydantic import BaseModel

# name -> (module, model, what it is)
MODELS: dict[str, tuple[str, str, str]] = {
    "target": ("target", "Target", "a deployment target (targets/*.toml)"),
    "recipe": ("recipe", "Recipe", "a quantization recipe (quantize/*.toml)"),
    "devices": ("devices", "DevicesFile", "the devices inventory (devices.toml)"),
    "manifest": ("manifest", "Manifest", "the manifest next to every artifact (<artifact>.json)"),
    "profile": ("profile", "ProfileReport", "the profile report (edgekit profile --json, profile.json)"),
    "bench": ("bench", "Leaderboard", "the bench leaderboard (edgekit bench --json, bench.json)"),
    "package-metadata": ("package_metadata", "PackageMetadata", "a packaged model's <name>.metadata.json"),
    "generative-manifest": (
        "generative",
        "GenerativeManifest",
        "the manifest next to a generative (KV-cache decoder) artifact (<artifact>.json)",
    ),
    "generation-profile": (
        "generative",
        "GenerationReport",
        "the profile report of a generative artifact (prefill and decode apart)",
    ),
    "decoder-bundle-metadata": (
        "generative",
        "DecoderBundleMetadata",
        "a packaged generative decoder's <name>.metadata.json (linux bundles)",
    ),
}
DIALECT = "https://json-schema.org/draft/2020-12/schema"


def model(name: str) -> type[BaseModel]:
    """The model of document `name`; an unknown name lists the known ones."""
    if name not in MODELS:
        raise UsageError(f"unknown document '{name}'", hint=f"known documents: {', '.join(MODELS)}")
    module, attribute, _ = MODELS[name]
    return getattr(importlib.import_module(f"edge_kit.documents.{module}"), attribute)


def json_schema(name: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of document `name`, generated from its model."""
    from pydantic.json_schema import GenerateJsonSchema

    class Untitled(GenerateJsonSchema):
        """Pydantic's generator without a title on every property (the field names say it)."""

        def field_title_should_be_set(self, schema: Any) -> bool:
            return False

    generated = model(name).model_json_schema(by_alias=True, schema_generator=Untitled)
    return {"$schema": DIALECT, **generated}


def schema_text(name: str) -> str:
    return json.dumps(json_schema(name), indent=2, ensure_ascii=False) + "\n"


def shipped_schema(name: str) -> dict[str, Any]:
    """The schema of document `name` as shipped inside the package (what `edgekit schema NAME` prints)."""
    model(name)  # an unknown name is a UsageError
    text = resources.files("edge_kit.documents").joinpath("schemas", f"{name}.json").read_text("utf-8")
    return json.loads(text)


def write_schemas(folder: Path) -> list[Path]:
    """Regenerate every shipped schema file into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in MODELS:
        path = folder / f"{name}.json"
        path.write_text(schema_text(name), encoding="utf-8")
        written.append(path)
    return written
