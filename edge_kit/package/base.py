"""What every platform module shares: the bundle being built, templates, runtimes.

A platform is a small record (name, archive suffix, formats, `entries(bundle)`)
registered in `edge_kit.package.core.PLATFORMS`; adding one is adding a module.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from edge_kit.package.archive import Entry
from edge_kit.package.wrappers import FILTERS
from edge_kit.report.templates import Templates

SUFFIXES = {"tflite": ".tflite", "onnx": ".onnx", "executorch": ".pte"}


@dataclass(frozen=True)
class Bundle:
    """Everything a platform needs to lay out its archive."""

    name: str  # python-style identifier, e.g. "digits"
    version: str
    model: bytes  # the model file as shipped (TFLite: with the metadata embedded)
    metadata: dict[str, Any]
    metadata_json: bytes

    @property
    def format(self) -> str:
        return str(self.metadata["model"]["format"])

    @property
    def class_name(self) -> str:
        """`DigitsModel` for `digits`, `MnistCnnModel` for `mnist_cnn`."""
        return "".join(part.capitalize() for part in self.name.split("_") if part) + "Model"

    @property
    def model_file(self) -> str:
        return str(self.metadata["model"]["file"])

    @property
    def metadata_file(self) -> str:
        return f"{self.name}.metadata.json"

    def dependencies(self, platform: str) -> list[str]:
        return dependency_lines(self.format, platform, self.metadata.get("versions", {}))


@dataclass(frozen=True)
class Platform:
    """A packaging destination: its archive kind and what it lays out for a bundle."""

    name: str
    suffix: str  # the archive file's suffix, e.g. ".aar"
    formats: tuple[str, ...]
    entries: Callable[[Bundle], list[Entry]]
    archive: str = "zip"  # "zip" or "tar.gz"
    dependency_kinds: tuple[str, ...] = ()  # keys of templates/dependencies.toml it documents
    # (entries, bundle, check) -> report: runs the bundle on an emulated board before it is written
    verify: Callable[[list[Entry], Bundle, VerifyCheck], dict[str, Any]] | None = None
    description: str = ""


@dataclass(frozen=True)
class VerifyCheck:
    """Run the bundle on this emulated target with these samples, compare with this artifact."""

    target: str
    samples: Path | None
    artifact: Path
    manifest: dict[str, Any]


# jinja2 templates under edge_kit/package/templates/ (Kotlin, Swift, Python, READMEs, Dockerfile, XML).
TEMPLATES = Templates("edge_kit.package", filters=FILTERS)


@cache
def _dependency_table() -> dict[str, Any]:
    return tomllib.loads(TEMPLATES.text("dependencies.toml"))


def runtime_name(fmt: str) -> str:
    return str(_dependency_table()[fmt]["runtime"])


def dependency_lines(fmt: str, kind: str, versions: dict[str, str]) -> list[str]:
    """`kind` (android, spm, cocoapods, python) lines for `fmt`, versions from the manifest."""
    table = _dependency_table()
    values = dict(table["defaults"])
    for key, manifest_key in (
        ("litert", "ai-edge-litert"),
        ("onnxruntime", "onnxruntime"),
        ("executorch", "executorch"),
    ):
        if versions.get(manifest_key):
            values[key] = str(versions[manifest_key]).split("+")[0]
    return [line.format(**values) for line in table[fmt][kind]]
