"""The exporter interface: one module per output format implements it.

An exporter knows which (source framework, precision) pairs it can produce, writes
the artifact, and loads an artifact in its real runtime (a `Runner`) for validation.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np

from edge_kit.errors import UnsupportedError
from edge_kit.models.base import SourceModel
from edge_kit.signature import TensorSpec


@dataclass
class ExportOptions:
    """Everything an exporter may need beyond the source model and the destination."""

    precision: str = "fp32"
    opset: int | None = None
    onnx_exporter: str = "dynamo"  # "dynamo" | "legacy"
    portable: bool = False  # ExecuTorch without the XNNPACK delegate
    recipe: Any = None  # edge_kit.recipes.Recipe for quantized precisions
    calibration: list[list[np.ndarray]] | None = None  # input batches for static int8
    keep_float: tuple[str, ...] = ()  # layers/nodes kept in float (accuracy budget)
    workdir: Path | None = None  # scratch folder for intermediates, alive for one export
    extra: dict[str, Any] = field(default_factory=dict)  # per-export cache shared by re-quantizations


class Runner(Protocol):
    """An artifact loaded in its real runtime."""

    inputs: list[TensorSpec]
    outputs: list[TensorSpec]

    def run(self, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Run one inference on float (or the model's own dtype) inputs; float outputs."""


def package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


class Exporter(ABC):
    """Produce one artifact format from a source model and run it in its runtime."""

    name: ClassVar[str]
    suffix: ClassVar[str]
    runtime: ClassVar[str]
    description: ClassVar[str]
    # Which precisions each source framework supports for this format.
    support: ClassVar[dict[str, tuple[str, ...]]]
    deprecation: ClassVar[str | None] = None

    def check(self, source: SourceModel, precision: str) -> None:
        """Raise UnsupportedError naming the pairs that exist when this path does not."""
        if precision in self.support.get(source.framework, ()):
            return
        pairs = "; ".join(f"{fw} → {self.name}: {', '.join(p)}" for fw, p in self.support.items())
        what = (
            f"{source.framework} → {self.name}"
            if precision == "fp32"
            else f"{source.framework} → {self.name} at {precision}"
        )
        raise UnsupportedError(f"no conversion path {what}", hint=f"supported: {pairs}")

    def quantizable_layers(self, source: SourceModel, options: ExportOptions) -> list[str]:
        """Names (in this format's own namespace) of the layers `options.keep_float` can keep
        in float at `options.precision`; empty when this path cannot keep layers in float."""
        return []

    @abstractmethod
    def export(self, source: SourceModel, dest: Path, options: ExportOptions) -> dict[str, Any]:
        """Write the artifact to `dest`; return extra manifest facts (opset, delegate, ...)."""

    @abstractmethod
    def load(self, path: Path, source_inputs: Sequence[TensorSpec], threads: int = 0) -> Runner:
        """Load an artifact in its runtime (source specs help runtimes that declare none)."""

    @abstractmethod
    def versions(self, source: SourceModel | None = None) -> dict[str, str | None]:
        """Versions of the converter and runtime packages involved."""
