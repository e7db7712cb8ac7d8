"""The manifest written next to every artifact: `<artifact>.json`, a schema-versioned `Manifest` document.

It records where the artifact came from (source, versions), what it takes and returns,
how it was validated, and its sha256 so later steps (package, profile) can trust it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from edge_kit import __version__
from edge_kit.documents.base import problem
from edge_kit.documents.generative import MANIFEST_SCHEMA as GENERATIVE_SCHEMA
from edge_kit.documents.manifest import SCHEMA, SCHEMA_VERSION, Manifest
from edge_kit.errors import ManifestError
from edge_kit.fsutil import sha256_file, write_text_atomic

__all__ = ["SCHEMA", "SCHEMA_VERSION", "Manifest", "manifest_path", "parse_manifest", "read_manifest"]


def manifest_path(artifact: Path) -> Path:
    return Path(artifact).with_name(Path(artifact).name + ".json")


def new_manifest(**sections: Any) -> dict[str, Any]:
    """A manifest dict with the schema header first."""
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "edgekit_version": __version__,
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **sections,
    }


def manifest_text(manifest: dict[str, Any]) -> str:
    """The manifest's JSON text; a manifest edgekit could not read back is never written."""
    text = json.dumps(manifest, indent=2, sort_keys=False) + "\n"
    try:
        Manifest.model_validate(json.loads(text))  # exactly what `parse_manifest` will read
    except ValidationError as exc:
        raise RuntimeError(f"edgekit built an invalid manifest: {problem(exc, Manifest, tables=False)[0]}") from exc
    return text


def write_manifest(artifact: Path, manifest: dict[str, Any]) -> Path:
    dest = manifest_path(artifact)
    write_text_atomic(dest, manifest_text(manifest))
    return dest


def parse_manifest(text: str | bytes, origin: str = "manifest") -> dict[str, Any]:
    """Parse and check manifest JSON against the `Manifest` document; any problem is a ManifestError.

    Returns the manifest as its JSON dict: later steps (package, profile) may rely on its shape."""
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ManifestError(f"{origin} is not valid JSON ({str(exc)[:80]})") from None
    if isinstance(data, dict) and data.get("schema") == GENERATIVE_SCHEMA:
        from edge_kit.errors import UnsupportedError

        raise UnsupportedError(
            f"{origin} belongs to a generative decoder (KV cache): this step does not take decoders yet",
            hint="profile it with `edgekit profile`; see docs/generative.md",
        )
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise ManifestError(f"{origin} is not an edgekit manifest")
    version = data.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool) or version > SCHEMA_VERSION:
        raise ManifestError(
            f"{origin} has schema version {version!r}; this edgekit reads up to {SCHEMA_VERSION}",
            hint="upgrade edgekit",
        )
    try:
        Manifest.model_validate(data)
    except ValidationError as exc:
        raise ManifestError(
            f"{origin} is malformed: {problem(exc, Manifest, tables=False)[0]}",
            hint="it was edited or damaged; export the artifact again",
        ) from None
    return data


def _manifest_bytes(artifact: Path) -> tuple[Path, bytes]:
    path = manifest_path(artifact)
    if not Path(artifact).exists():
        raise ManifestError(f"artifact {artifact} does not exist", hint="check the path")
    if not path.is_file():
        raise ManifestError(
            f"{Path(artifact).name} has no manifest ({path.name})",
            hint="export it with `edgekit export` so its origin and validation are known",
        )
    return path, path.read_bytes()


def _check_sha256(artifact: Path, data: dict[str, Any]) -> None:
    if sha256_file(Path(artifact)) != data["artifact"]["sha256"]:
        raise ManifestError(
            f"{Path(artifact).name} no longer matches its manifest (sha256 differs)",
            hint="the file was modified after export; export it again",
        )


def read_manifest(artifact: Path, verify: bool = True) -> dict[str, Any]:
    """Load the manifest of `artifact`; with `verify`, check the artifact's sha256 still matches."""
    path, text = _manifest_bytes(artifact)
    data = parse_manifest(text, path.name)
    if verify:
        _check_sha256(artifact, data)
    return data


def is_generative(artifact: Path) -> bool:
    """Whether the manifest next to `artifact` is a generative decoder's (never raises)."""
    try:
        data = json.loads(manifest_path(artifact).read_bytes())
    except (OSError, ValueError, RecursionError):
        return False
    return isinstance(data, dict) and data.get("schema") == GENERATIVE_SCHEMA


def read_generative_manifest(artifact: Path, verify: bool = True) -> dict[str, Any]:
    """Load a generative decoder's manifest (a `GenerativeManifest` document); with `verify`, check
    the artifact's sha256 still matches."""
    from edge_kit.documents.generative import GenerativeManifest

    path, text = _manifest_bytes(artifact)
    try:
        data = json.loads(text)
        GenerativeManifest.model_validate(data)
    except (ValueError, RecursionError) as exc:  # pydantic's ValidationError is a ValueError
        raise ManifestError(
            f"{path.name} is not a valid generative manifest ({str(exc).splitlines()[0][:80]})"
        ) from None
    if verify:
        _check_sha256(artifact, data)
    return dict(data)
