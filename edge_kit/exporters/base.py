"""What a format is, and how a model gets there.

A `Format` is one object per artifact format (tflite, onnx, executorch, ptl): its suffixes,
how to recognise it from its bytes, its runtime (for validation here, for the harness on a
board, for the apps it is packaged into) and its static op-cost reader. A `Route` is one
named way to make that format from one source framework; a format module registers its
routes in `edge_kit.registry`, which orders them and tries the next when one fails.
"""

from __future__ import annotations

import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np

from edge_kit.signature import TensorSpec

if TYPE_CHECKING:
    from edge_kit.estimate.opcost import ModelCost
    from edge_kit.models.base import SourceModel
    from edge_kit.quant.share import Int8Share
    from edge_kit.recipes import Recipe

PRECISIONS = ("fp32", "fp16", "int8-dynamic", "int8")
PT2E_CALIBRATION = ("histogram", "minmax", "percentile")  # the PT2E observers edge_kit.quant.pt2e sets up


@dataclass
class ExportState:
    """What one export computes once and every re-quantization of it reuses (an accuracy-budget
    search converts again); shared by reference between copies of its `ExportOptions`."""

    prepared: Any = None  # edge_kit.quant.prepare.Prepared: the equalized / bias-measured torch program
    float_artifact: Path | None = None  # the fp32 artifact a format-level quantizer starts from
    calibrated_tflite: bytes | None = None  # a TFLite model carrying calibration statistics
    bridged: dict[str, Any] = field(default_factory=dict)  # bridge name -> the source it made
    notes: dict[str, Any] = field(default_factory=dict)  # quantization facts for the manifest


@dataclass
class ExportOptions:
    """What a route needs beyond the source and the destination."""

    precision: str = "fp32"
    opset: int | None = None
    portable: bool = False  # ExecuTorch without the XNNPACK delegate
    recipe: Recipe | None = None  # the quantization recipe for quantized precisions
    calibration: list[list[np.ndarray]] | None = None  # input batches for static int8
    keep_float: tuple[str, ...] = ()  # layers/nodes kept in float (accuracy budget)
    workdir: Path | None = None  # scratch folder for intermediates, alive for one export
    state: ExportState = field(default_factory=ExportState)
    _scratch: Any = field(default=None, repr=False)

    def need_recipe(self) -> Recipe:
        """The recipe of a quantized precision (every quantized export has one)."""
        assert self.recipe is not None, f"{self.precision} without a recipe"
        return self.recipe

    def scratch(self) -> Path:
        """A folder for intermediate files during one export (created on first use)."""
        if self.workdir is None:
            self._scratch = tempfile.TemporaryDirectory(prefix="edgekit-export-")
            self.workdir = Path(self._scratch.name)
        return self.workdir


class Runner(Protocol):
    """An artifact loaded in its real runtime."""

    inputs: list[TensorSpec]
    outputs: list[TensorSpec]

    def run(self, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Run one inference on float (or the model's own dtype) inputs; float outputs."""


Convert = Callable[[Any, Path, ExportOptions], dict[str, Any]]
Layers = Callable[[Any, ExportOptions], list[str]]


@dataclass(frozen=True)
class Route:
    """One named way from a source framework to a format.

    `convert(source, dest, options)` writes `dest` at `options.precision` (one of
    `precisions`) and returns facts for the manifest; `layers(source, options)` names the
    layers `options.keep_float` can keep in float (the accuracy budget), when it can.
    `accepts(source)` narrows a route to some sources of its framework (e.g. Keras files only).
    """

    name: str
    framework: str
    format: str
    convert: Convert
    precisions: tuple[str, ...] = ("fp32",)
    layers: Layers | None = None
    accepts: Callable[[Any], bool] | None = None
    description: str = ""
    versions: tuple[str, ...] = ()  # distributions whose versions the manifest records
    calibration_methods: tuple[str, ...] = ()  # what its static int8 quantizer can calibrate with
    io_types: tuple[str, ...] = ("float32",)  # the input/output types its int8 models can take
    via: str | None = None  # the framework a bridged route converts through (its recipes apply)

    @property
    def recipe_framework(self) -> str:
        """The framework whose quantization recipes this route uses."""
        return self.via or self.framework

    def takes(self, source: SourceModel) -> bool:
        return source.framework == self.framework and (self.accepts is None or self.accepts(source))


def package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


class Format(ABC):
    """An artifact format: what it is, how to recognise it and how to run it.

    Policy lives in class attributes; subclasses implement `load` (the runtime used for
    validation) and may override `detect`, `op_cost` and the artifact-level quantizer.
    """

    name: ClassVar[str]
    suffix: ClassVar[str]  # the canonical suffix of an exported artifact
    other_suffixes: ClassVar[tuple[str, ...]] = ()
    aliases: ClassVar[tuple[str, ...]] = ()
    runtime: ClassVar[str]  # the runtime validation uses
    description: ClassVar[str]
    deprecation: ClassVar[str | None] = None
    # Profiling: the harness adapter that runs it on a board (None: cannot be profiled),
    # the pip distributions that adapter imports there, and whether it needs edgekit's
    # ExecuTorch shim library instead.
    harness_runtime: ClassVar[str | None] = None
    board_distributions: ClassVar[tuple[str, ...]] = ()
    needs_et_shim: ClassVar[bool] = False
    # Packaging: the runtime's display name and its dependency lines per kind
    # (android, spm, cocoapods, python); {placeholders} come from the manifest's versions.
    package_runtime: ClassVar[str | None] = None
    package_platforms: ClassVar[tuple[str, ...]] = ()  # android, ios, linux
    package_dependencies: ClassVar[dict[str, tuple[str, ...]]] = {}
    # {placeholder: (the manifest's distribution whose version fills it, default version)}
    package_versions: ClassVar[dict[str, tuple[str, str]]] = {}
    runtime_distributions: ClassVar[tuple[str, ...]] = ()  # versions recorded for the runtime
    embeds_metadata: ClassVar[bool] = False  # the bundle's metadata JSON also goes inside the model file
    # The smallest weight scale its int8 quantizer uses (bias correction models that grid).
    int8_weight_scale_floor: ClassVar[float] = 0.0
    # Precisions this format derives from its own fp32 artifact (whatever route made it), and
    # the calibration methods of that quantizer.
    artifact_precisions: ClassVar[tuple[str, ...]] = ()
    artifact_calibration_methods: ClassVar[tuple[str, ...]] = ()
    # Whose recipes that quantizer takes when the source's framework has none for this format
    # (an fp32 ONNX model is quantized the same whatever made it).
    artifact_recipe_framework: ClassVar[str | None] = None
    # What to pass when an int8 artifact of this format quantized little (see edge_kit.quant.share).
    quantize_more_hint: ClassVar[str] = "see `edgekit recipes` for recipes that quantize more"

    @property
    def suffixes(self) -> tuple[str, ...]:
        return (self.suffix, *self.other_suffixes)

    def detect(self, path: Path, head: bytes) -> bool:
        """Whether the file at `path`, starting with `head` (its first 16 bytes), is this format."""
        return False

    @abstractmethod
    def load(self, path: Path, source_inputs: Sequence[TensorSpec], threads: int = 0) -> Runner:
        """Load an artifact in its runtime (source specs help runtimes that declare none)."""

    def op_cost(self, path: Path) -> ModelCost | None:
        """The static per-operator cost of an artifact (for the latency estimate), if readable."""
        return None

    def quantize_artifact(self, fp32: Path, dest: Path, options: ExportOptions) -> dict[str, Any]:
        """Write `dest` at `options.precision` from this format's fp32 artifact `fp32`."""
        raise NotImplementedError(f"{self.name} derives no precision from its fp32 artifact")

    def artifact_layers(self, fp32: Path, options: ExportOptions) -> list[str]:
        """Layers of an fp32 artifact that `quantize_artifact` can keep in float."""
        return []

    def embed_metadata(self, model: bytes, document: bytes) -> bytes:
        """The model with the metadata document inside (formats with `embeds_metadata`)."""
        raise NotImplementedError(f"{self.name} models carry no metadata")

    def quantized_share(self, path: Path) -> Int8Share | None:
        """How much of the artifact is int8 (weight bytes, MACs), read from the file; None: unknown."""
        return None

    def check_artifact(self, path: Path) -> None:
        """Raise ModelLoadError for a file its runtime's verifier rejects (before it is run)."""
        return None  # most runtimes verify when they load

    def versions(self) -> dict[str, str | None]:
        return {name: package_version(name) for name in self.runtime_distributions}
