"""Quantization recipes as data: `quantize/*.toml` validated into frozen dataclasses.

A recipe names the settings behind one precision of one format (per-channel or not,
calibration method and sample count, activation/weight types, I/O type, ops kept in
float, image preprocessing for calibration folders). The TOML files ship inside the
wheel (package `edge_kit.recipes_data`); users add their own in `$EDGEKIT_RECIPES_PATH`
(os.pathsep-separated folders) or `~/.config/edgekit/recipes/`. A user file with the
same name overrides a shipped one, and a user default replaces the shipped default.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from dataclasses import asdict, dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import Any

from edge_kit.errors import UnsupportedError, UsageError
from edge_kit.fsutil import shipped_data
from edge_kit.typecheck import NUMBER, ListOf, Spec, read_text, wrong_type

QUANTIZED = ("fp16", "int8-dynamic", "int8")
LAYOUTS = ("auto", "NCHW", "NHWC")
COLORS = ("auto", "rgb", "gray")
DTYPES = ("float32", "float16", "int8", "uint8")


@dataclass(frozen=True)
class Preprocess:
    """How a folder of images becomes calibration inputs (flags override each field).

    The shorter side is resized to `resize` (0: the model's input size), the centre is
    cropped to the input size, pixels are multiplied by `scale`, then `(x - mean) / std`.
    """

    resize: int = 0
    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)
    scale: float = 1.0 / 255.0
    layout: str = "auto"
    color: str = "auto"

    def describe(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


@dataclass(frozen=True)
class Recipe:
    """The named settings behind one precision of one format."""

    name: str
    description: str
    format: str
    precision: str
    sources: tuple[str, ...]
    tool: str
    default: bool = False
    per_channel: bool = True
    calibration_method: str | None = None
    calibration_samples: int = 0  # 0: no calibration (fp16, dynamic)
    percentile: float = 99.999  # percentile calibration: the range kept
    histogram_bins: int = 2048  # percentile / entropy calibration histograms
    activation_type: str = "float32"
    weight_type: str = "int8"
    io_type: str = "float32"
    quant_format: str = "qdq"
    symmetric_activations: bool = False
    equalize_streams: bool = False  # torch static int8: equalize linear residual streams first
    equalize_activations: bool = False  # torch static int8: equalize ReLU/ReLU6 -> depthwise channels first
    bias_correction: bool = False  # torch static per-channel int8: undo the weight rounding's mean output shift
    keep_float_ops: tuple[str, ...] = ()  # the format's own op names: Gemm (ONNX), MEAN (TFLite), linear (PT2E)
    preprocess: Preprocess = field(default_factory=Preprocess)
    origin: str = ""

    @property
    def needs_calibration(self) -> bool:
        return self.calibration_samples > 0

    @property
    def prepares_source(self) -> bool:
        """True when a torch source is transformed before quantizing (equalization, bias correction)."""
        return self.equalize_streams or self.equalize_activations or self.bias_correction

    def settings(self) -> dict[str, Any]:
        """The quantization settings, as recorded in manifests and `edgekit recipes --json`."""
        skip = {"name", "description", "format", "precision", "sources", "tool", "default", "origin", "preprocess"}
        if self.calibration_method != "percentile":
            skip.add("percentile")
        if self.calibration_method not in ("percentile", "entropy"):
            skip.add("histogram_bins")
        out = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items() if k not in skip}
        if self.needs_calibration:
            out["preprocess"] = self.preprocess.describe()
        return out

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "format": self.format,
            "precision": self.precision,
            "sources": list(self.sources),
            "default": is_default(self),
            "tool": self.tool,
            "description": self.description,
            "settings": self.settings(),
            "origin": self.origin,
        }


_REQUIRED = ("name", "description", "format", "precision", "sources", "tool")
_S, _B = (str,), (bool,)
_TYPES: dict[str, Spec] = {
    "name": _S,
    "description": _S,
    "format": _S,
    "precision": _S,
    "sources": ListOf(_S),
    "tool": _S,
    "default": _B,
    "per_channel": _B,
    "calibration_method": _S,
    "calibration_samples": (int,),
    "percentile": NUMBER,
    "histogram_bins": (int,),
    "activation_type": _S,
    "weight_type": _S,
    "io_type": _S,
    "quant_format": _S,
    "symmetric_activations": _B,
    "equalize_streams": _B,
    "equalize_activations": _B,
    "bias_correction": _B,
    "keep_float_ops": ListOf(_S),
    "preprocess": (dict,),
}
_PREPROCESS_TYPES: dict[str, Spec] = {
    "resize": (int,),
    "mean": ListOf(NUMBER),
    "std": ListOf(NUMBER),
    "scale": NUMBER,
    "layout": _S,
    "color": _S,
}


def _fail(origin: str, problem: str, hint: str | None = None) -> UsageError:
    return UsageError(f"recipe file {origin}: {problem}", hint=hint)


def _preprocess(data: dict[str, Any], origin: str) -> Preprocess:
    known = {f.name for f in fields(Preprocess)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise _fail(
            origin,
            f"unknown [preprocess] field(s) {', '.join(unknown)}",
            hint=f"known fields: {', '.join(sorted(known))}",
        )
    values = {**data}
    for key in ("mean", "std"):
        if key in values:
            values[key] = tuple(float(v) for v in values[key])
    pre = Preprocess(**values)
    if pre.layout not in LAYOUTS or pre.color not in COLORS:
        raise _fail(
            origin, f"preprocess layout must be one of {', '.join(LAYOUTS)} and color one of {', '.join(COLORS)}"
        )
    if any(s == 0 for s in pre.std) or pre.resize < 0 or pre.scale <= 0:
        raise _fail(origin, "preprocess std must be non-zero, resize >= 0 and scale > 0")
    return pre


def _check(recipe: Recipe, origin: str) -> None:
    from edge_kit import registry

    formats = [
        f
        for f in registry.formats()
        if any(p != "fp32" for fw in registry.frameworks() for p in registry.precisions(fw, f))
    ]
    if recipe.format not in formats:
        raise _fail(origin, f"format must be one of {', '.join(formats)}")
    if recipe.precision not in QUANTIZED:
        raise _fail(origin, f"precision must be one of {', '.join(QUANTIZED)} (fp32 needs no recipe)")
    bad = [s for s in recipe.sources if s not in registry.frameworks()]
    if bad or not recipe.sources:
        raise _fail(origin, f"sources must be a non-empty list of {', '.join(registry.frameworks())}")
    for dtype in (recipe.activation_type, recipe.weight_type, recipe.io_type):
        if dtype not in DTYPES:
            raise _fail(origin, f"unknown type '{dtype}'", hint=f"use one of {', '.join(DTYPES)}")
    for framework in recipe.sources if recipe.io_type != "float32" else ():
        if recipe.io_type not in registry.io_types(recipe.format, framework):
            raise _fail(origin, f"io_type {recipe.io_type} is not available for {framework} → {recipe.format}")
    static = recipe.precision == "int8"
    if static != recipe.needs_calibration or (static and recipe.calibration_method is None):
        raise _fail(
            origin,
            "int8 (static) recipes need calibration_method and calibration_samples > 0; "
            "fp16 and int8-dynamic recipes take none",
        )
    for framework in recipe.sources if static else ():
        allowed = registry.calibration_methods(recipe.format, framework)
        if recipe.calibration_method not in allowed:
            raise _fail(
                origin,
                f"calibration_method '{recipe.calibration_method}' is not available for {framework} → {recipe.format}",
                hint=f"use one of {', '.join(allowed)}",
            )
    if not 0.0 < recipe.percentile <= 100.0 or recipe.histogram_bins < 128:
        raise _fail(origin, "percentile must be in (0, 100] and histogram_bins at least 128")
    if recipe.bias_correction and not recipe.per_channel:
        raise _fail(origin, "bias_correction needs per_channel = true (it models the per-channel int8 weight grid)")
    for flag in ("equalize_streams", "equalize_activations", "bias_correction"):
        if getattr(recipe, flag) and (not static or recipe.sources != ("torch",)):
            raise _fail(
                origin,
                f"{flag} applies to static int8 recipes whose only source is torch",
                hint=f'set sources = ["torch"] and precision = "int8", or drop {flag}',
            )
    if recipe.quant_format not in ("qdq", "qoperator"):
        raise _fail(origin, "quant_format must be qdq or qoperator")


def parse(data: dict[str, Any], origin: str) -> Recipe:
    """Validate one recipe table; every problem names the file and the field."""
    known = {f.name for f in fields(Recipe)} - {"origin"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise _fail(origin, f"unknown field(s) {', '.join(unknown)}", hint=f"known fields: {', '.join(sorted(known))}")
    missing = [key for key in _REQUIRED if key not in data]
    if missing:
        raise _fail(origin, f"missing field(s) {', '.join(missing)}")
    problem = wrong_type(data, _TYPES) or wrong_type(data.get("preprocess", {}), _PREPROCESS_TYPES, "preprocess.")
    if problem:
        raise _fail(origin, problem)
    values = {
        **data,
        "origin": origin,
        "sources": tuple(data["sources"]),
        "keep_float_ops": tuple(data.get("keep_float_ops", ())),
        "preprocess": _preprocess(dict(data.get("preprocess", {})), origin),
    }
    try:
        recipe = Recipe(**values)
    except TypeError as exc:
        raise _fail(origin, str(exc)) from None
    if not isinstance(recipe.calibration_samples, int) or recipe.calibration_samples < 0:
        raise _fail(origin, "calibration_samples must be a non-negative integer")
    _check(recipe, origin)
    return recipe


def _user_dirs() -> list[Path]:
    env = os.environ.get("EDGEKIT_RECIPES_PATH")
    dirs = [Path(p) for p in env.split(os.pathsep) if p] if env else []
    return dirs + [Path.home() / ".config" / "edgekit" / "recipes"]


def _texts(user_dirs: tuple[Path, ...]) -> list[tuple[str, str, bool]]:
    shipped = shipped_data("edge_kit.recipes_data", "quantize")
    out = [
        (entry.name, entry.read_text(encoding="utf-8"), False)
        for entry in sorted(shipped.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".toml")
    ]
    for folder in user_dirs:
        if folder.is_dir():
            out += [(str(p), read_text(p, "recipe file"), True) for p in sorted(folder.glob("*.toml")) if p.is_file()]
    return out


@dataclass(frozen=True)
class Catalog:
    """Every recipe by name, and the default recipe name per (format, precision, framework)."""

    recipes: dict[str, Recipe]
    defaults: dict[tuple[str, str, str], str]


@lru_cache(maxsize=8)
def _load_all(user_dirs: tuple[Path, ...]) -> Catalog:
    found: dict[str, Recipe] = {}
    claims: dict[tuple[str, str, str], tuple[str, bool]] = {}
    for origin, text, is_user in _texts(user_dirs):
        try:
            recipe = parse(tomllib.loads(text), origin)
        except tomllib.TOMLDecodeError as exc:
            raise UsageError(f"recipe file {origin} is not valid TOML: {exc}") from None
        found[recipe.name] = recipe
        for framework in recipe.sources if recipe.default else ():
            key = (recipe.format, recipe.precision, framework)
            other = claims.get(key)
            if other and other[1] == is_user and other[0] != recipe.name:
                raise _fail(
                    origin,
                    f"both '{other[0]}' and '{recipe.name}' claim to be the default "
                    f"for {framework} → {recipe.format} at {recipe.precision}",
                )
            claims[key] = (recipe.name, is_user)
    defaults = {key: name for key, (name, _) in claims.items() if found[name].default}
    return Catalog(recipes=found, defaults=defaults)


def all_recipes() -> dict[str, Recipe]:
    """Every known recipe by name (shipped, then user additions and overrides)."""
    return _load_all(tuple(_user_dirs())).recipes


def is_default(recipe: Recipe) -> bool:
    """True when `recipe` is the default for at least one of its source frameworks."""
    return recipe.name in _load_all(tuple(_user_dirs())).defaults.values()


def get_recipe(name: str) -> Recipe:
    """A recipe by name; an unknown name lists the known ones and the closest."""
    recipes = all_recipes()
    if name in recipes:
        return recipes[name]
    close = difflib.get_close_matches(name, list(recipes), n=1, cutoff=0.4)
    hint = f"did you mean '{close[0]}'? " if close else ""
    raise UsageError(f"unknown recipe '{name}'", hint=f"{hint}known recipes: {', '.join(sorted(recipes))}")


def default_recipe(fmt: str, precision: str, framework: str) -> Recipe:
    """The default recipe for `framework` → `fmt` at `precision`."""
    catalog = _load_all(tuple(_user_dirs()))
    name = catalog.defaults.get((fmt, precision, framework))
    if name is None:
        raise UnsupportedError(
            f"no quantization recipe for {framework} → {fmt} at {precision}",
            hint="see `edgekit recipes` for the pairs that exist",
        )
    return catalog.recipes[name]


def resolve(fmt: str, precision: str, framework: str, name: str | None) -> Recipe | None:
    """The recipe an export uses: the named one (checked against the path) or the default; None for fp32."""
    if name is None:
        return None if precision == "fp32" else default_recipe(fmt, precision, framework)
    recipe = get_recipe(name)
    if recipe.format != fmt or framework not in recipe.sources:
        raise UsageError(
            f"recipe '{name}' is for {', '.join(recipe.sources)} → {recipe.format}, not {framework} → {fmt}",
            hint=f"recipes for this path: {', '.join(names_for(fmt, framework)) or 'none'}",
        )
    if recipe.precision != precision:
        raise UsageError(
            f"recipe '{name}' quantizes to {recipe.precision}, not {precision}",
            hint=f"pass --quantize {recipe.precision} or omit --quantize",
        )
    return recipe


def equalized_alternatives(recipe: Recipe, framework: str) -> list[str]:
    """Recipes for the same path and precision that equalize and bias-correct first, when `recipe` does not."""
    if recipe.prepares_source:
        return []
    return sorted(
        r.name
        for r in all_recipes().values()
        if r.format == recipe.format
        and framework in r.sources
        and r.precision == recipe.precision
        and r.prepares_source
    )


def names_for(fmt: str, framework: str) -> list[str]:
    return sorted(r.name for r in all_recipes().values() if r.format == fmt and framework in r.sources)
