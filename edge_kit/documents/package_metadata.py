"""The metadata that travels with a packaged model (`<name>.metadata.json`; inside a TFLite model too).

What an app or board needs to feed a packaged model and read its outputs. Built by
`edge_kit.package.metadata.build_metadata`; this model is the schema every document satisfies.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from edge_kit.documents.base import Record, Rule
from edge_kit.documents.manifest import RecipeSettings

SCHEMA = "edgekit.model-metadata"
SCHEMA_VERSION = 1


def _nonzero(value: float) -> float:
    if value == 0:
        raise Rule("must be non-zero")
    return value


Dim = Annotated[int, Field(ge=1)]
NonZero = Annotated[float, AfterValidator(_nonzero), Field(json_schema_extra={"not": {"const": 0}})]


class Quantization(Record):
    """real = scale * (q - zero_point)."""

    scale: float = Field(gt=0)
    zero_point: int


class Normalization(Record):
    """model_input = (raw * scale - mean[c]) / std[c], c = index along channel_axis."""

    scale: float = Field(gt=0)
    mean: list[float] = Field(min_length=1)
    std: list[NonZero] = Field(min_length=1)
    channel_axis: Annotated[int, Field(ge=0)] | None
    formula: str
    source: str


class Input(Record):
    name: str
    shape: list[Dim] = Field(min_length=1)
    dtype: str
    layout: str | None
    quantization: Quantization | None
    normalization: Normalization | None


class Output(Record):
    name: str
    shape: list[Dim] = Field(min_length=1)
    dtype: str
    layout: str | None
    quantization: Quantization | None
    meaning: str


class ModelFile(Record):
    file: str = Field(pattern="^[A-Za-z0-9_.-]+$")
    format: str = Field(description="a format edgekit packages (see `edgekit routes`)")
    runtime: str
    precision: str
    exported_sha256: str = Field(pattern="^[0-9a-f]{64}$")
    exported_size_bytes: int = Field(ge=1)
    metadata_embedded: bool


class TargetInfo(Record):
    name: str
    description: str
    arch: str


class ValidationDigest(Record):
    """The export's validation, as far as the manifest recorded it."""

    status: str
    samples: int | None = None
    max_abs_diff: float | None = None
    mean_abs_diff: float | None = None
    cosine_similarity: float | None = None
    top1_agreement: float | None = None
    tolerance: dict[str, float | None] | None = None


class AccuracyDigest(Record):
    """The export's accuracy on held-out data (file names only: no host paths)."""

    metric: str
    source: float
    artifact: float
    drop: float
    samples: int
    data: str


class CalibrationDigest(Record):
    kind: str | None = None
    samples: int | None = None


class QuantizationDigest(Record):
    recipe: str | None
    tool: str | None
    settings: RecipeSettings | None  # type: ignore[valid-type]
    keep_float: list[str]
    calibration: CalibrationDigest | None


class SourceDigest(Record):
    kind: str
    framework: str
    sha256: str


class PackageMetadata(Record):
    """What an app or board needs to feed a packaged model and read its outputs. The same document
    ships beside every model file (<name>.metadata.json) and, for TFLite, inside the model as the
    metadata buffer 'edgekit_metadata'."""

    schema_: Literal["edgekit.model-metadata"] = Field(alias="schema")
    schema_version: Literal[1]
    name: str = Field(pattern="^[a-z][a-z0-9_]*$")
    version: str = Field(min_length=1)
    model: ModelFile
    task: Literal["classification", "tensor"]
    inputs: list[Input] = Field(min_length=1)
    outputs: list[Output] = Field(min_length=1)
    labels: list[Annotated[str, Field(min_length=1)]] | None = Field(min_length=1)
    target: TargetInfo
    validation: ValidationDigest
    accuracy: AccuracyDigest | None
    quantization: QuantizationDigest | None
    source: SourceDigest
    versions: dict[str, str]
    edgekit_version: str
