"""What every platform module shares: the bundle being built, templates, runtimes.

A platform is a small record (name, archive suffix, formats, `entries(bundle)`)
registered in `edge_kit.packager.core.PLATFORMS`; adding one is adding a module.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from edge_kit.errors import EdgeKitError
from edge_kit.packager.archive import Entry

PLACEHOLDER = re.compile(r"@@([A-Z0-9_]+)@@")
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


def template(path: str) -> str:
    """The text of a package-data template under edge_kit/packager/templates/."""
    return resources.files("edge_kit.packager").joinpath("templates", *path.split("/")).read_text("utf-8")


def render(path: str, values: dict[str, str]) -> str:
    """A template with every `@@KEY@@` replaced; a placeholder without a value is a bug."""
    text = template(path)
    missing = sorted({key for key in PLACEHOLDER.findall(text) if key not in values})
    if missing:
        raise EdgeKitError(f"internal: template {path} needs values for {', '.join(missing)}")
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


@cache
def _dependency_table() -> dict[str, Any]:
    return tomllib.loads(template("dependencies.toml"))


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


def kotlin_floats(values: list[float]) -> str:
    return ", ".join(f"{float(v)!r}f" for v in values)


def shape_text(shape: list[int]) -> str:
    return ", ".join(str(int(d)) for d in shape)


SECTION = re.compile(r"^// == (\w+) ==$", re.M)


def template_sections(text: str) -> dict[str, str]:
    """A runner template's `// == name ==` sections (imports, runner, helpers) by name."""
    parts = SECTION.split(text)
    return {parts[i]: parts[i + 1].strip("\n") for i in range(1, len(parts) - 1, 2)}
