"""`edgekit package` as a library call: manifest → metadata → platform bundle → archive.

    result = package(PackageRequest(artifact=Path("digits.tflite"), platform="android"))

Everything that can be wrong (manifest, format, labels, normalization, output path)
is checked before anything is written; the archive is written atomically, so an
error, Ctrl-C or SIGTERM never leaves one behind.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge_kit import progress
from edge_kit.errors import ManifestError, UnsupportedError, UsageError
from edge_kit.fsutil import check_writable, write_bytes_atomic
from edge_kit.manifest import is_generative, read_generative_manifest, read_manifest
from edge_kit.packager import android, ios, linux
from edge_kit.packager.archive import Entry, sha256_hex, tar_gz_bytes, zip_bytes
from edge_kit.packager.base import Bundle, Platform, VerifyCheck
from edge_kit.packager.metadata import Normalization, build_metadata, read_labels, to_json
from edge_kit.registry import format_of_file, get_format
from edge_kit.targets import get_target

PLATFORMS: dict[str, Platform] = {p.name: p for p in (android.PLATFORM, ios.PLATFORM, linux.PLATFORM)}
NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
VERSION = re.compile(r"^[0-9]+(\.[0-9]+){0,3}$")


@dataclass
class PackageRequest:
    """What to package, for which platform, and what only the user knows about it."""

    artifact: Path
    platform: str
    output: Path | None = None  # default: <artifact folder>/<name>-<platform><suffix>
    labels: Path | None = None  # one label per line, in output order
    name: str | None = None  # default: from the artifact's file name
    version: str = "1.0.0"
    normalization: Normalization = field(default_factory=Normalization)
    verify_on: str | None = None  # linux: an emulated target to install the wheel in and predict on
    samples: Path | None = None  # .npz (x, optional y) or .npy for verify_on (default: random inputs)


@dataclass
class PackageResult:
    archive: Path
    platform: str
    format: str
    name: str
    sha256: str
    size_bytes: int
    entries: list[str]
    dependencies: dict[str, list[str]]
    metadata: dict[str, Any]
    verification: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "archive": str(self.archive),
            "platform": self.platform,
            "format": self.format,
            "name": self.name,
            "sha256": self.sha256,
            "size_bytes": self.size_bytes,
            "entries": self.entries,
            "dependencies": self.dependencies,
            "verification": self.verification,
            "metadata": self.metadata,
        }


def get_platform(name: str) -> Platform:
    if name not in PLATFORMS:
        raise UsageError(f"unknown platform '{name}'", hint=f"use one of: {', '.join(PLATFORMS)}")
    return PLATFORMS[name]


def default_name(artifact: Path) -> str:
    """`digits` for `digits.fp32.tflite`; any character a package name cannot hold becomes `_`."""
    stem = re.sub(r"[^a-z0-9_]+", "_", artifact.name.split(".")[0].lower()).strip("_")
    stem = re.sub(r"^[0-9_]+", "", stem)
    return stem[:64] or "model"


def _check_request(req: PackageRequest, platform: Platform, fmt: str) -> tuple[str, Path]:
    if fmt not in platform.formats:
        works = ", ".join(platform.formats)
        raise UnsupportedError(
            f"{platform.name} bundles take {works} artifacts, not {fmt}",
            hint=f"export the model again with --format {' or '.join(platform.formats)}",
        )
    name = req.name if req.name is not None else default_name(Path(req.artifact))
    if not NAME.match(name):
        raise UsageError(
            f"invalid bundle name '{name}'",
            hint="use lowercase letters, digits and _, starting with a letter (e.g. digits)",
        )
    if not VERSION.match(req.version):
        raise UsageError(f"invalid version '{req.version}'", hint="use numbers and dots, e.g. 1.0.0")
    dest = Path(req.output) if req.output else Path(req.artifact).parent / f"{name}-{platform.name}{platform.suffix}"
    if not dest.name.endswith(platform.suffix):
        raise UsageError(
            f"{platform.name} bundles are {platform.suffix} files, not {dest.name}",
            hint=f"pass -o NAME{platform.suffix}",
        )
    if req.samples is not None and req.verify_on is None:
        raise UsageError("--samples are for --verify-on", hint="add --verify-on raspi (linux bundles)")
    if req.verify_on is not None:
        if platform.verify is None:
            raise UsageError(
                f"--verify-on runs linux bundles on an emulated board; {platform.name} bundles cannot run there",
                hint="drop --verify-on, or package for linux",
            )
        if not get_target(req.verify_on).emulated:
            raise UsageError(f"target '{req.verify_on}' is not an emulated board", hint="e.g. --verify-on raspi")
    check_writable(dest)
    return name, dest


def _model_bytes(artifact: Path, fmt: str, metadata: dict[str, Any]) -> tuple[bytes, dict[str, Any], bytes]:
    """The model file as shipped, the final metadata and its JSON (embedded for TFLite)."""
    original = artifact.read_bytes()
    if sha256_hex(original) != metadata["model"]["exported_sha256"]:  # changed since the manifest check
        raise ManifestError(
            f"{artifact.name} no longer matches its manifest (sha256 differs)",
            hint="the file was modified after export; export it again",
        )
    if not get_format(fmt).embeds_metadata:
        return original, metadata, to_json(metadata)
    metadata = {**metadata, "model": {**metadata["model"], "metadata_embedded": True}}
    document = to_json(metadata)
    with progress.step(f"embedding the metadata into the {fmt} model"):
        embedded = get_format(fmt).embed_metadata(original, document)
    return embedded, metadata, document


def content_format(artifact: Path, manifest: dict[str, Any]) -> str:
    """The artifact's format from its bytes; a manifest that names another one is refused."""
    found = format_of_file(artifact)
    claimed = str(manifest["artifact"]["format"])
    if found is None or found.name != claimed:
        raise ManifestError(
            f"{artifact.name}'s manifest says {claimed}, but the file is "
            f"{'not a format edgekit packages' if found is None else found.name}",
            hint="the manifest was edited or belongs to another file; export the artifact again",
        )
    return found.name


def package(req: PackageRequest) -> PackageResult:
    """Build the platform bundle of an exported artifact and write it atomically."""
    platform = get_platform(req.platform)
    artifact = Path(req.artifact)
    if is_generative(artifact):
        from edge_kit.packager import decoder

        decoder.check_request(req, platform)
        name, dest = _check_request(req, platform, content_format(artifact, read_generative_manifest(artifact)))
        return decoder.package_decoder(req, platform, name, dest)
    manifest = read_manifest(artifact, verify=True)
    fmt = content_format(artifact, manifest)
    name, dest = _check_request(req, platform, fmt)
    labels = read_labels(req.labels) if req.labels is not None else None
    if manifest.get("status") != "ok":
        progress.warn(
            f"{artifact.name} was exported with validation status '{manifest.get('status')}'; "
            "the bundle's metadata records it"
        )
    metadata = build_metadata(
        manifest,
        name=name,
        version=req.version,
        model_file=f"{name}{get_format(fmt).suffix}",
        labels=labels,
        labels_origin=Path(req.labels).name if req.labels else "",
        normalization=req.normalization,
        embedded=False,
    )
    model, metadata, document = _model_bytes(artifact, fmt, metadata)
    bundle = Bundle(name=name, version=req.version, model=model, metadata=metadata, metadata_json=document)
    with progress.step(f"laying out the {platform.name} bundle"):
        entries = platform.entries(bundle)
    verification = None
    if req.verify_on is not None and platform.verify is not None:
        verification = platform.verify(entries, bundle, VerifyCheck(req.verify_on, req.samples, artifact, manifest))
    data = _archive(platform, entries)
    write_bytes_atomic(dest, data)
    progress.log(f"wrote {dest} ({platform.name}, {fmt}, {len(entries)} files, {len(data):,} bytes)")
    deps = {kind: bundle.dependencies(kind) for kind in platform.dependency_kinds}
    return PackageResult(
        archive=dest,
        platform=platform.name,
        format=fmt,
        name=name,
        sha256=sha256_hex(data),
        size_bytes=len(data),
        entries=sorted(e.name for e in entries),
        dependencies=deps,
        metadata=metadata,
        verification=verification,
    )


def _archive(platform: Platform, entries: list[Entry]) -> bytes:
    return tar_gz_bytes(entries) if platform.archive == "tar.gz" else zip_bytes(entries)
