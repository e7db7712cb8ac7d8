"""The one object an export's stages read and extend (see `edge_kit.pipeline.stages`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge_kit.exporters.base import ExportOptions, Format, Route, Runner
from edge_kit.models.base import SourceModel
from edge_kit.recipes import Recipe
from edge_kit.targets import Target
from edge_kit.validate import Comparison, Tolerance


@dataclass
class ExportRequest:
    """What to export, how, and how to prove it."""

    model: Any  # a Path to a model file, or (Python API) a live model object
    target: str = "host"
    format: str | None = None
    precision: str | None = None  # None: the named recipe's precision, else fp32
    output: Path | None = None
    input_shapes: list[tuple[int, ...]] = field(default_factory=list)
    input_dtypes: list[str] = field(default_factory=list)
    input_specs: Any = ()  # per input: "KEY=SHAPE[:DTYPE][:VALUES]" strings, InputSpecs, or {name: dict}
    dims: Any = None  # {name: size | "MIN..MAX" | DimRange}: fix or bound dynamic dimensions
    model_class: str | None = None
    trust_model: bool = False
    example_inputs: Any = None  # live models: the inputs that define the signature
    params: Any = None  # live JAX functions: their parameters (Flax modules: their variables)
    route: str | None = None  # force one named route (see `edgekit routes`); default: try them in order
    opset: int | None = None
    portable: bool = False
    sample_inputs: Path | None = None
    num_samples: int = 10
    input_range: tuple[float, float] = (0.0, 1.0)
    tolerance: Tolerance | None = None
    recipe: str | None = None  # quantization recipe name (default: the path's default recipe)
    calibration: str | Path | None = None  # .npz/.npy, a folder of images, or "random"
    calibration_samples: int | None = None  # default: the recipe's count
    preprocess: dict[str, Any] = field(default_factory=dict)  # image preprocessing overrides
    eval_data: Path | None = None  # .npz with x (and y) for the accuracy report
    max_accuracy_drop: float | None = None  # points; keeps layers in float until it holds


@dataclass
class ExportResult:
    """What an export wrote: the artifact, its manifest (also on disk next to it)."""

    artifact: Path
    manifest_path: Path
    manifest: dict[str, Any]

    @property
    def status(self) -> str:
        return str(self.manifest["status"])

    @property
    def validation(self) -> dict[str, Any]:
        return dict(self.manifest["validation"])

    @property
    def accuracy(self) -> dict[str, Any] | None:
        return self.manifest.get("accuracy")

    def raise_for_status(self) -> None:
        """ValidationError (exit 6) when the artifact is outside tolerance or over its accuracy
        budget; both were written and recorded first."""
        from edge_kit.errors import ValidationError

        if self.status == "over_budget":
            budget = self.manifest["accuracy"]["budget"]
            raise ValidationError(
                f"{self.artifact.name}: accuracy drop {budget['final_drop']:.2f} points exceeds "
                f"--max-accuracy-drop {budget['max_drop']}: {budget['reason']}",
                hint="the best attempt and its manifest were kept; try another --recipe or budget",
            )
        if self.status != "ok":
            reasons = "; ".join(self.manifest["validation"]["reasons"])
            raise ValidationError(
                f"{self.artifact.name} is outside tolerance: {reasons}",
                hint="the artifact and manifest were kept; inspect them or pass --allow-mismatch",
            )


@dataclass
class ExportContext:
    """Everything the stages know so far; each stage fills its own fields."""

    request: ExportRequest
    target: Target
    workdir: Path
    timings: dict[str, float] = field(default_factory=dict)
    # load
    source: SourceModel | None = None
    # plan
    format: Format | None = None
    precision: str = "fp32"
    routes: list[Route] = field(default_factory=list)  # candidates, in the order they are tried
    recipe: Recipe | None = None
    calibration: Any = None  # edge_kit.calibration.Calibration | None
    evaluator: Any = None  # edge_kit.accuracy.Evaluator | None
    options: ExportOptions = field(default_factory=ExportOptions)
    batches: list[list[Any]] = field(default_factory=list)  # validation inputs
    batches_desc: str = ""
    dest: Path | None = None
    # convert (+ quantize)
    route: Route | None = None
    failed_routes: list[dict[str, str]] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    runner: Runner | None = None
    # validate / measure
    comparison: Comparison | None = None
    size_checks: list[dict[str, Any]] = field(default_factory=list)  # validation at other dynamic sizes
    accuracy: dict[str, Any] | None = None
    int8_share: dict[str, Any] | None = None  # int8 exports: what the artifact really holds as int8
    manifest: dict[str, Any] | None = None

    @property
    def staged(self) -> Path:
        """Where the artifact is written before it is published next to its manifest."""
        assert self.format is not None
        return self.workdir / "artifact" / f"artifact{self.format.suffix}"

    def need_source(self) -> SourceModel:
        assert self.source is not None, "the load stage runs first"
        return self.source

    def need_format(self) -> Format:
        assert self.format is not None, "the plan stage runs first"
        return self.format
