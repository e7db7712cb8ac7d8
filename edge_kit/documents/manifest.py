"""The manifest written next to every artifact (`<artifact>.json`), as a type.

Reading rules (forward compatible): a manifest names its `schema_version`; this edgekit
reads every version up to `SCHEMA_VERSION`. Sections added after version 1 was first
written are optional with the value older manifests imply (the accuracy interval and
resolution, a recipe's torch preparations, the budget search), so old manifests still
read. The artifact section is open to a format's own scalar facts (opset, delegate, ...),
since formats are plugins; every other table is closed.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, ConfigDict, Field, WithJsonSchema, create_model

from edge_kit.documents.base import Record, Rule
from edge_kit.documents.recipe import IDENTITY, Preprocess, Recipe
from edge_kit.documents.target import TargetSummary

SCHEMA = "edgekit.manifest"
SCHEMA_VERSION = 1


def _scalar(value: Any) -> Any:
    if value is not None and not isinstance(value, (str, int, float, bool)):
        raise Rule("must be a string, a number, true, false or null")
    return value


# A format's own fact: one JSON scalar.
Scalar = Annotated[Any, AfterValidator(_scalar), WithJsonSchema({"type": ["string", "number", "boolean", "null"]})]


class TensorSpec(Record):
    """One input or output: its name, shape (null for a dynamic dimension), dtype and layout."""

    noun = "tensor"
    name: str
    shape: list[Annotated[int, Field(ge=0)] | None]
    dtype: str
    layout: str | None = None
    scale: float | None = Field(default=None, description="quantized tensors: real = scale * (q - zero_point)")
    zero_point: int | None = None
    dims: list[str | None] | None = Field(default=None, description="the name of each axis that stays dynamic")
    kind: Literal["data", "tokens", "mask", "const"] = "data"
    low: float | None = Field(default=None, description="data: the values' low end")
    high: float | None = Field(default=None, description="data: the values' high end; tokens: the vocabulary")
    value: float | None = Field(default=None, description="const: every sample's value")


class RouteFailure(Record):
    """A route tried before the one used, and why it failed."""

    route: str
    error: str


class SharedWeights(Record):
    """Tied weights (one tensor under several names, e.g. embedding and LM head) and how the file stores them."""

    tied: list[list[str]]
    stored: Literal["once", "twice"]
    stored_twice_bytes: int
    why: str | None = None


class Artifact(Record):
    """The exported file, and the format's own facts about it (opset, converter, delegate, ...)."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, Scalar] = Field(init=False)  # a format's further facts: scalars only
    file: str
    format: str
    runtime: str
    precision: str | None
    sha256: str = Field(pattern="^[0-9a-f]{64}$")
    size_bytes: int = Field(ge=0)
    opset: int | None = Field(default=None, description="onnx")
    onnx_exporter: str | None = Field(default=None, description="onnx: dynamo, torchscript, tf2onnx or copy")
    quantizer: str | None = Field(default=None, description="onnx: the onnxruntime quantizer used")
    converter: str | None = Field(default=None, description="tflite: litert-torch or tf.lite.TFLiteConverter")
    delegate: str | None = Field(default=None, description="executorch: xnnpack, or null for portable kernels")
    frozen: bool | None = Field(default=None, description="ptl: torch.jit.freeze applied")
    route: str | None = Field(default=None, description="the conversion route used (see `edgekit routes`)")
    routes_failed: list[RouteFailure] | None = Field(default=None, description="routes tried first, and why")
    fixed_inputs: list[str] | None = Field(default=None, description="onnx copy: inputs made static")
    input_dims: list[list[int | str]] | None = Field(default=None, description="jax → onnx: each input's dims")
    pre_process: dict[str, Any] | None = Field(default=None, description="onnx int8: the pre-process attempts")
    shared_weights: SharedWeights | None = Field(default=None, description="executorch: tied weights")


class Source(Record):
    """The model the artifact was exported from."""

    path: str
    kind: str
    framework: str
    sha256: str | None
    symbolic_dims: list[str] | None = Field(default=None, description="jax: the symbolic dimensions it declares")


class Tolerance(Record):
    atol: float | None
    rtol: float
    min_cosine: float
    min_top1: float


class SizeCheck(Record):
    """Validation at one set of sizes of the dynamic dimensions."""

    dims: dict[str, int]
    status: Literal["ok", "mismatch"]
    max_abs_diff: float
    cosine_similarity: float
    reasons: list[str]


class DimBounds(Record):
    min: int = Field(ge=1)
    max: int = Field(ge=1)


class Validation(Record):
    """The artifact run in its runtime next to the source, on the same inputs."""

    status: Literal["ok", "mismatch"]
    samples: int
    max_abs_diff: float
    mean_abs_diff: float
    cosine_similarity: float
    top1_agreement: float | None
    tolerance: Tolerance
    reasons: list[str]
    layout_transposed: bool
    inputs: str
    sizes: list[SizeCheck] | None = Field(default=None, description="the artifact at other sizes of its dynamic dims")
    notes: list[str] | None = Field(default=None, description="how the outputs were judged, when not by every check")


# The quantization settings a manifest records: a recipe's fields minus those naming it.
RecipeSettings = create_model(  # type: ignore[call-overload]
    "RecipeSettings",
    __base__=Record,
    __doc__="A recipe's quantization settings (edge_kit.documents.recipe.Recipe, without its identity).",
    **{name: (field.annotation, field) for name, field in Recipe.model_fields.items() if name not in IDENTITY},
)


class RandomCalibration(Record):
    kind: Literal["random"]
    samples: int
    distribution: str
    warning: str


class FileCalibration(Record):
    kind: Literal["file"]
    path: str
    samples: int


class ImageCalibration(Record):
    kind: Literal["images"]
    path: str
    samples: int
    preprocess: Preprocess


Calibration = Annotated[RandomCalibration | FileCalibration | ImageCalibration, Field(discriminator="kind")]


class Equalized(Record):
    streams: int
    channels: int
    activations: int | None = None
    activation_channels: int | None = None


class BiasCorrected(Record):
    layers: int


class Int8Counts(Record):
    int8: int
    float: int


class SizeVsFp32(Record):
    ratio: float | None
    fp32_bytes: int | None
    fp32: str  # "measured", or how the fp32 size was estimated


class Int8Share(Record):
    """What an int8 artifact really holds as int8, read from the file (edge_kit/quant/share.py)."""

    measured: bool = True
    reason: str | None = None  # why it was not measured
    weights: float | None = None  # share of weight bytes that are int8
    macs: float | None = None  # share of multiply-accumulates run in int8
    weight_bytes: Int8Counts | None = None
    mac_counts: Int8Counts | None = None
    largest_float: str | None = None
    largest_float_op: str | None = None
    stored_twice_bytes: int | None = None  # weights stored twice (tied weights)
    size_vs_fp32: SizeVsFp32 | None = None


class OpTypes(Record):
    quantized: list[str]
    why: str


class Quantization(Record):
    """The recipe and the calibration data behind a quantized artifact."""

    recipe: str
    tool: str
    settings: RecipeSettings  # type: ignore[valid-type]
    calibration: Calibration | None
    keep_float: list[str]
    equalized: Equalized | None = None
    bias_corrected: BiasCorrected | None = None
    op_types: OpTypes | None = None  # ONNX static int8 of a transformer-like graph
    int8_share: Int8Share | None = None


class Probe(Record):
    keep_float: list[str]
    drop: float
    recovered: float
    output_error: float


class Step(Record):
    keep_float: list[str]
    metric: float
    drop: float
    output_error: float


class Budget(Record):
    """The search that kept layers in float until the accuracy drop fit --max-accuracy-drop."""

    max_drop: float
    status: Literal["within_budget", "rescued", "over_budget"]
    quantizable_layers: int
    initial_drop: float
    final_drop: float
    keep_float: list[str]
    probes: list[Probe]
    steps: list[Step]
    requantizations: int
    reason: str | None


class Accuracy(Record):
    """The metric of the source and of the artifact (percent) on held-out data, and the drop (points)."""

    metric: Literal["top1_accuracy", "top1_agreement"]
    source: float
    artifact: float
    drop: float
    samples: int
    data: str
    output_error: float
    artifact_interval95: list[float] | None = Field(default=None, min_length=2, max_length=2)
    resolution_points: float | None = None
    budget: Budget | None = None


class Timings(Record):
    load_s: float
    export_s: float
    validate_s: float
    accuracy_s: float | None = None
    plan_s: float | None = None
    prepare_s: float | None = None
    int8_s: float | None = None


class Manifest(Record):
    """Where an artifact came from, what it takes and returns, and how it was validated."""

    schema_: Literal["edgekit.manifest"] = Field(alias="schema")
    schema_version: int = Field(ge=1, le=SCHEMA_VERSION)
    edgekit_version: str
    created_utc: str
    status: Literal["ok", "mismatch", "over_budget"]
    artifact: Artifact
    source: Source
    target: TargetSummary
    inputs: list[TensorSpec]
    source_inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    validation: Validation
    dynamic_dims: dict[str, DimBounds] | None = None
    quantization: Quantization | None = None
    accuracy: Accuracy | None = None
    versions: dict[str, str | None]
    timings_s: Timings
