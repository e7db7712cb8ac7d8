"""A quantization recipe (`quantize/*.toml`): the named settings behind one precision of one format.

The model is the type the rest of edgekit reads (`edge_kit.recipes.Recipe`); its cross-field
rules (what static int8 needs, which calibration methods each quantizer implements, what
the torch-only source preparations apply to) are the `_rules` validator below, in one place.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, PrivateAttr, field_validator, model_validator

from edge_kit.documents.base import Document, Rule, Tup

QUANTIZED = ("fp16", "int8-dynamic", "int8")
LAYOUTS = ("auto", "NCHW", "NHWC")
COLORS = ("auto", "rgb", "gray")
DTYPES = ("float32", "float16", "int8", "uint8")
DType = Literal["float32", "float16", "int8", "uint8"]
PREPARATIONS = ("equalize_streams", "equalize_activations", "bias_correction")


def quantizable_formats() -> tuple[str, ...]:
    """Formats some route or the format itself quantizes (the registries own the names)."""
    from edge_kit import registry

    return tuple(
        f
        for f in registry.formats()
        if any(p != "fp32" for fw in registry.frameworks() for p in registry.precisions(fw, f))
    )


def _is_default(recipe: Any) -> bool:
    from edge_kit.recipes import is_default

    return is_default(recipe)


def frameworks() -> tuple[str, ...]:
    from edge_kit import registry

    return registry.frameworks()


def _enum(names: Any) -> Any:
    def extra(schema: dict[str, Any]) -> None:
        (schema.get("items") or schema)["enum"] = list(names())

    return extra


class Preprocess(Document):
    """How a folder of images becomes calibration inputs (flags override each field).

    The shorter side is resized to `resize` (0: the model's input size), the centre is
    cropped to the input size, pixels are multiplied by `scale`, then `(x - mean) / std`.
    """

    resize: int = Field(default=0, ge=0)
    mean: Tup[float] = (0.0,)
    std: Tup[float] = (1.0,)
    scale: float = Field(default=1.0 / 255.0, gt=0)
    layout: Literal["auto", "NCHW", "NHWC"] = "auto"
    color: Literal["auto", "rgb", "gray"] = "auto"

    @field_validator("std")
    @classmethod
    def _nonzero(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(s == 0 for s in value):
            raise Rule("must be non-zero")
        return value

    def describe(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class Recipe(Document):
    """The named settings behind one precision of one format."""

    name: str
    description: str
    format: str = Field(json_schema_extra=_enum(quantizable_formats))
    precision: Literal["fp16", "int8-dynamic", "int8"] = Field(description="fp32 needs no recipe")
    sources: Tup[str] = Field(json_schema_extra=_enum(frameworks))
    tool: str
    default: bool = False
    per_channel: bool = True
    calibration_method: str | None = None
    calibration_samples: int = Field(default=0, ge=0, description="0: no calibration (fp16, dynamic)")
    percentile: float = Field(default=99.999, gt=0, le=100, description="percentile calibration: the range kept")
    histogram_bins: int = Field(default=2048, ge=128, description="percentile / entropy calibration histograms")
    activation_type: DType = "float32"
    weight_type: DType = "int8"
    io_type: DType = "float32"
    quant_format: Literal["qdq", "qoperator"] = "qdq"
    symmetric_activations: bool = False
    equalize_streams: bool = Field(default=False, description="torch static int8: equalize linear residual streams")
    equalize_activations: bool = Field(
        default=False, description="torch static int8: equalize ReLU/ReLU6 -> depthwise channels"
    )
    bias_correction: bool = Field(
        default=False, description="torch static per-channel int8: undo the weight rounding's mean output shift"
    )
    keep_float_ops: Tup[str] = Field(default=(), description="the format's own op names: Gemm, MEAN, linear")
    preprocess: Preprocess = Preprocess()
    _origin: str = PrivateAttr(default="")

    def model_post_init(self, context: Any) -> None:
        self._origin = (context or {}).get("origin", "")

    @field_validator("format")
    @classmethod
    def _format(cls, value: str) -> str:
        if value not in quantizable_formats():
            raise Rule(f"must be one of {', '.join(quantizable_formats())}")
        return value

    @field_validator("sources")
    @classmethod
    def _sources(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        known = frameworks()
        if not value or any(s not in known for s in value):
            raise Rule(f"must be a non-empty list of {', '.join(known)}")
        return value

    @model_validator(mode="after")
    def _rules(self) -> Recipe:
        static = self.precision == "int8"
        from edge_kit import registry

        for framework in self.sources if self.io_type != "float32" else ():
            if self.io_type not in registry.io_types(self.format, framework):
                raise Rule(f"io_type {self.io_type} is not available for {framework} → {self.format}")
        if static != self.needs_calibration or (static and self.calibration_method is None):
            raise Rule(
                "int8 (static) recipes need calibration_method and calibration_samples > 0; "
                "fp16 and int8-dynamic recipes take none"
            )
        for framework in self.sources if static else ():
            allowed = registry.calibration_methods(self.format, framework)
            if self.calibration_method not in allowed:
                raise Rule(
                    f"calibration_method '{self.calibration_method}' is not available for {framework} → {self.format}",
                    hint=f"use one of {', '.join(allowed)}",
                )
        if self.bias_correction and not self.per_channel:
            raise Rule("bias_correction needs per_channel = true (it models the per-channel int8 weight grid)")
        for flag in PREPARATIONS:
            if getattr(self, flag) and (not static or self.sources != ("torch",)):
                raise Rule(
                    f"{flag} applies to static int8 recipes whose only source is torch",
                    hint=f'set sources = ["torch"] and precision = "int8", or drop {flag}',
                )
        return self

    @property
    def origin(self) -> str:
        """The file the recipe was read from."""
        return self._origin

    @property
    def needs_calibration(self) -> bool:
        return self.calibration_samples > 0

    @property
    def prepares_source(self) -> bool:
        """True when a torch source is transformed before quantizing (equalization, bias correction)."""
        return self.equalize_streams or self.equalize_activations or self.bias_correction

    def settings(self) -> dict[str, Any]:
        """The quantization settings, as recorded in manifests and `edgekit recipes --json`."""
        skip = set(IDENTITY) | {"preprocess"}
        if self.calibration_method != "percentile":
            skip.add("percentile")
        if self.calibration_method not in ("percentile", "entropy"):
            skip.add("histogram_bins")
        out = self.model_dump(mode="json", exclude=skip)
        if self.needs_calibration:
            out["preprocess"] = self.preprocess.describe()
        return out

    def summary(self) -> dict[str, Any]:
        """`edgekit recipes --json`: identity, whether it is a default, settings and origin."""
        return {
            "name": self.name,
            "format": self.format,
            "precision": self.precision,
            "sources": list(self.sources),
            "default": _is_default(self),
            "tool": self.tool,
            "description": self.description,
            "settings": self.settings(),
            "origin": self.origin,
        }


# What names a recipe rather than configures it (left out of its recorded settings).
IDENTITY = ("name", "description", "format", "precision", "sources", "tool", "default")
