"""The manifest written next to every artifact: `<artifact>.json`, schema-versioned.

It records where the artifact came from (source, versions), what it takes and returns,
how it was validated, and its sha256 so later steps (package, profile) can trust it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from edge_kit import __version__
from edge_kit.errors import ManifestError
from edge_kit.fsutil import sha256_file, write_text_atomic
from edge_kit.typecheck import NUMBER, ListOf, Spec, wrong_type

SCHEMA = "edgekit.manifest"
SCHEMA_VERSION = 1
REQUIRED = ("schema", "schema_version", "artifact", "source", "inputs", "outputs", "status")
ARTIFACT = ("sha256", "format")  # required in the artifact section


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
    return json.dumps(manifest, indent=2, sort_keys=False) + "\n"


def write_manifest(artifact: Path, manifest: dict[str, Any]) -> Path:
    dest = manifest_path(artifact)
    write_text_atomic(dest, manifest_text(manifest))
    return dest


def parse_manifest(text: str | bytes, origin: str = "manifest") -> dict[str, Any]:
    """Parse and structurally check manifest JSON; any problem is a ManifestError."""
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ManifestError(f"{origin} is not valid JSON ({str(exc)[:80]})") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise ManifestError(f"{origin} is not an edgekit manifest")
    if not isinstance(data.get("schema_version"), int) or data["schema_version"] > SCHEMA_VERSION:
        raise ManifestError(
            f"{origin} has schema version {data.get('schema_version')!r}; this edgekit reads up to {SCHEMA_VERSION}",
            hint="upgrade edgekit",
        )
    missing = [key for key in REQUIRED if key not in data]
    artifact = data.get("artifact")
    if missing or not isinstance(artifact, dict) or not all(isinstance(artifact.get(k), str) for k in ARTIFACT):
        raise ManifestError(
            f"{origin} is incomplete (missing {', '.join(missing) or ', '.join(f'artifact.{k}' for k in ARTIFACT)})"
        )
    problem = _first_problem(data)
    if problem:
        raise ManifestError(
            f"{origin} is malformed: {problem}", hint="it was edited or damaged; export the artifact again"
        )
    return data


# What later steps (package, profile) read from a manifest, checked once here so that they
# can trust its shape: key -> accepted JSON types. A missing optional key is fine.
_NULL = type(None)
_TENSOR: dict[str, Spec] = {
    "name": (str,),
    "dtype": (str,),
    "layout": (str, _NULL),
    "scale": (*NUMBER, _NULL),
    "zero_point": (int, _NULL),
}
_ARTIFACT: dict[str, Spec] = {
    "format": (str,),
    "file": (str,),
    "runtime": (str,),
    "precision": (str, _NULL),
    "size_bytes": (int,),
}
_SECTIONS: dict[str, Spec] = {
    "status": (str,),
    "target": (dict,),
    "source": (dict,),
    "validation": (dict,),
    "versions": (dict,),
    "accuracy": (dict, _NULL),
    "quantization": (dict, _NULL),
}
_PREPROCESS: dict[str, Spec] = {"scale": (*NUMBER, _NULL), "mean": ListOf(NUMBER), "std": ListOf(NUMBER)}


def _tensor_problem(value: Any, where: str) -> str | None:
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        return f"{where} must be a list of tensors"
    for i, tensor in enumerate(value):
        if "name" not in tensor or "dtype" not in tensor or not isinstance(tensor.get("shape"), list):
            return f"{where}[{i}] needs name, shape and dtype"
        if not all(d is None or (isinstance(d, int) and not isinstance(d, bool) and d >= 0) for d in tensor["shape"]):
            return f"{where}[{i}].shape must hold non-negative integers"
        problem = wrong_type(tensor, _TENSOR, f"{where}[{i}].")
        if problem:
            return problem
    return None


def _first_problem(data: dict[str, Any]) -> str | None:
    """The first structural problem of a manifest (None: later steps may rely on its shape)."""
    problem = wrong_type(data, _SECTIONS) or wrong_type(data["artifact"], _ARTIFACT, "artifact.")
    for key in ("inputs", "outputs", "source_inputs"):
        if problem is None and (key != "source_inputs" or key in data):
            problem = _tensor_problem(data[key], key)
    return problem or _calibration_problem(data.get("quantization") or {})


def _calibration_problem(quantization: dict[str, Any]) -> str | None:
    calibration = quantization.get("calibration")
    if calibration is None:
        return None
    preprocess = calibration.get("preprocess") if isinstance(calibration, dict) else None
    if not isinstance(calibration, dict) or not isinstance(preprocess, (dict, _NULL)):
        return "quantization.calibration must be an object with an optional preprocess object"
    return wrong_type(preprocess or {}, _PREPROCESS, "quantization.calibration.preprocess.")


def read_manifest(artifact: Path, verify: bool = True) -> dict[str, Any]:
    """Load the manifest of `artifact`; with `verify`, check the artifact's sha256 still matches."""
    path = manifest_path(artifact)
    if not Path(artifact).exists():
        raise ManifestError(f"artifact {artifact} does not exist", hint="check the path")
    if not path.is_file():
        raise ManifestError(
            f"{Path(artifact).name} has no manifest ({path.name})",
            hint="export it with `edgekit export` so its origin and validation are known",
        )
    data = parse_manifest(path.read_bytes(), path.name)
    if verify and sha256_file(Path(artifact)) != data["artifact"]["sha256"]:
        raise ManifestError(
            f"{Path(artifact).name} no longer matches its manifest (sha256 differs)",
            hint="the file was modified after export; export it again",
        )
    return data
