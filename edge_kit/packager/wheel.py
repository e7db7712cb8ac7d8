"""A wheel written directly from its files (PEP 427/491): deterministic, no build backend, no network.

`.dist-info/` holds METADATA, WHEEL, entry_points.txt and RECORD (sha256 + size of
every file), written last in the zip as the spec recommends.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass

from edge_kit import __version__
from edge_kit.packager.archive import Entry, zip_bytes

PURE_TAG = "py3-none-any"


@dataclass(frozen=True)
class WheelSpec:
    """Core metadata of the wheel."""

    distribution: str  # e.g. digits-model
    version: str
    summary: str
    requires: tuple[str, ...]
    tag: str = PURE_TAG
    console_script: str | None = None  # "name = module:function"
    requires_python: str = ">=3.9"

    @property
    def stem(self) -> str:
        """The distribution name as it appears in file names: digits_model."""
        return re.sub(r"[-_.]+", "_", self.distribution).lower()

    @property
    def filename(self) -> str:
        return f"{self.stem}-{self.version}-{self.tag}.whl"

    @property
    def dist_info(self) -> str:
        return f"{self.stem}-{self.version}.dist-info/"


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _metadata(spec: WheelSpec, description: str) -> bytes:
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {spec.distribution}",
        f"Version: {spec.version}",
        f"Summary: {spec.summary}",
        f"Requires-Python: {spec.requires_python}",
        *(f"Requires-Dist: {req}" for req in spec.requires),
        "Description-Content-Type: text/markdown",
    ]
    return ("\n".join(lines) + "\n\n" + description).encode()


def _wheel_file(spec: WheelSpec) -> bytes:
    purelib = "true" if spec.tag == PURE_TAG else "false"
    return (
        f"Wheel-Version: 1.0\nGenerator: edgekit {__version__}\nRoot-Is-Purelib: {purelib}\nTag: {spec.tag}\n"
    ).encode()


def build_wheel(spec: WheelSpec, files: list[Entry], description: str = "") -> bytes:
    """The wheel's bytes: `files` (paths inside site-packages) plus the .dist-info files."""
    info = spec.dist_info
    extra = [Entry(f"{info}METADATA", _metadata(spec, description)), Entry(f"{info}WHEEL", _wheel_file(spec))]
    if spec.console_script:
        extra.append(Entry(f"{info}entry_points.txt", f"[console_scripts]\n{spec.console_script}\n".encode()))
    contents = sorted([*files, *extra], key=lambda e: (e.name.startswith(info), e.name))
    record = "".join(f"{e.name},{_record_hash(e.data)},{len(e.data)}\n" for e in contents)
    record += f"{info}RECORD,,\n"
    return zip_bytes([*contents, Entry(f"{info}RECORD", record.encode())], last=info)
