"""What every platform module shares: the bundle being built, templates, runtimes.

A platform is a small record (name, archive suffix, formats, `entries(bundle)`)
registered in `edge_kit.packager.core.PLATFORMS`; adding one is adding a module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_kit.packager.archive import Entry
from edge_kit.packager.wrappers import FILTERS
from edge_kit.report.templates import Templates


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
    entries: Callable[[Bundle], list[Entry]]
    archive: str = "zip"  # "zip" or "tar.gz"
    dependency_kinds: tuple[str, ...] = ()  # keys of Format.package_dependencies it documents
    # (entries, bundle, check) -> report: runs the bundle on an emulated board before it is written
    verify: Callable[[list[Entry], Bundle, VerifyCheck], dict[str, Any]] | None = None
    description: str = ""

    @property
    def formats(self) -> tuple[str, ...]:
        """The formats whose runtime ships to this platform (each format says where it goes)."""
        from edge_kit.registry import formats

        return tuple(name for name, fmt in formats().items() if self.name in fmt.package_platforms)


@dataclass(frozen=True)
class VerifyCheck:
    """Run the bundle on this emulated target with these samples, compare with this artifact."""

    target: str
    samples: Path | None
    artifact: Path
    manifest: dict[str, Any]


# jinja2 templates under edge_kit/packager/templates/ (Kotlin, Swift, Python, READMEs, Dockerfile, XML).
TEMPLATES = Templates("edge_kit.packager", filters=FILTERS)


def runtime_name(fmt: str) -> str:
    from edge_kit.registry import get_format

    return str(get_format(fmt).package_runtime)


def dependency_lines(fmt: str, kind: str, versions: dict[str, str]) -> list[str]:
    """`kind` (android, spm, cocoapods, python) lines for `fmt`; {placeholders} take the versions of
    the runtime the artifact was validated with (the manifest's), else the format's defaults."""
    from edge_kit.registry import get_format

    found = get_format(fmt)
    values = {
        key: str(versions.get(dist) or default).split("+")[0] for key, (dist, default) in found.package_versions.items()
    }
    return [line.format(**values) for line in found.package_dependencies.get(kind, ())]
