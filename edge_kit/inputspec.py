"""Per-input specs from the user, their resolution against the model's declared signature, and
sample data that fits each input's kind.

Grammar (CLI `--input-spec`, repeatable; the Python API takes the same strings or dicts):

    KEY=SHAPE[:DTYPE][:VALUES]
    KEY     an input name, or its position (0, 1, ...)
    SHAPE   comma-separated sizes or dimension names (`1,seq`); empty for a scalar
    DTYPE   float32 | float16 | int8 | uint8 | int32 | int64 | bool
    VALUES  tokens | tokens<N (ids below N) | mask | LOW..HIGH (a value range) | a number (a constant)

    sr=:int64:16000   input_ids=1,seq:int64:tokens<30522   attention_mask=1,seq:int64:mask

`--dim NAME=N` fixes a dynamic dimension; `--dim NAME=LO..HI` keeps it dynamic within bounds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from edge_kit.errors import UsageError
from edge_kit.signature import (
    DTYPES,
    DimRange,
    Signature,
    TensorSpec,
    _check_concrete,
    check_dtype,
    guess_layout,
    static_size,
)

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:/-]*$")
RANGE = re.compile(r"^\s*(-?[\d.eE+-]+)\s*\.\.\s*(-?[\d.eE+-]+)\s*$")
TOKEN_WORDS = ("ids", "token", "input_ids", "indices")
BATCH_NAMES = ("batch", "batch_size", "bs", "n", "unk__batch")


@dataclass(frozen=True)
class InputSpec:
    """What the user says about one input (any field may be left to the model)."""

    key: str  # a name, or a position as digits
    shape: tuple[int | str, ...] | None = None  # () is a scalar; str items are dimension names
    dtype: str | None = None
    kind: str | None = None
    low: float | None = None
    high: float | None = None
    value: float | None = None


@dataclass
class InputRequest:
    """Everything the user said about inputs: positional shorthands, specs and dimension sizes."""

    shapes: list[tuple[int, ...]] = field(default_factory=list)
    dtypes: list[str] = field(default_factory=list)
    specs: list[InputSpec] = field(default_factory=list)
    dims: dict[str, int | DimRange] = field(default_factory=dict)


def _bad(text: str, why: str) -> UsageError:
    return UsageError(
        f"invalid input spec '{text}': {why}", hint="write KEY=SHAPE[:DTYPE][:VALUES], e.g. sr=:int64:16000"
    )


def _shape(text: str, spec: str) -> tuple[int | str, ...]:
    text = text.strip().removeprefix("[").removesuffix("]").strip()
    parts = text.split("x") if re.fullmatch(r"\d+(x\d+)+", text) else text.split(",")
    out: list[int | str] = []
    for part in [p.strip() for p in parts if p.strip()]:
        if part.isdigit():
            out.append(int(part))
        elif NAME.match(part):
            out.append(part)
        else:
            raise _bad(spec, f"'{part}' is neither a size nor a dimension name")
    return tuple(out)


def _values(text: str, spec: str) -> dict[str, Any]:
    text = text.strip()
    if text in ("tokens", "mask", "data"):
        return {"kind": text}
    if text.startswith("tokens<") and text[7:].isdigit():
        return {"kind": "tokens", "high": float(text[7:])}
    if (match := RANGE.match(text)) is not None:
        low, high = float(match.group(1)), float(match.group(2))
        if high <= low:
            raise _bad(spec, "the range's high end must be above its low end")
        return {"kind": "data", "low": low, "high": high}
    try:
        return {"kind": "const", "value": float(text.removeprefix("const="))}
    except ValueError:
        raise _bad(spec, f"values '{text}' are none of tokens, tokens<N, mask, LOW..HIGH, a number") from None


def parse_input_spec(text: str) -> InputSpec:
    """One `KEY=SHAPE[:DTYPE][:VALUES]` string."""
    key, sep, rest = text.partition("=")
    if not sep or not key.strip():
        raise _bad(text, "no KEY= in front")
    parts = rest.split(":")
    if len(parts) > 3:
        raise _bad(text, "more than three ':'-separated fields")
    fields: dict[str, Any] = {"shape": _shape(parts[0], text)}
    if len(parts) > 1 and parts[1].strip():
        fields["dtype"] = check_dtype(parts[1].strip())
    if len(parts) > 2 and parts[2].strip():
        fields.update(_values(parts[2], text))
    return InputSpec(key=key.strip(), **fields)


def spec_from_dict(key: str, data: Mapping[str, Any]) -> InputSpec:
    """The Python API's form: {"shape": (1, "seq"), "dtype": "int64", "kind": "tokens", "high": 30522}."""
    unknown = sorted(set(data) - {"shape", "dtype", "kind", "low", "high", "value"})
    if unknown:
        raise UsageError(f"input spec for '{key}' has unknown field(s) {', '.join(unknown)}")
    kind = data.get("kind") or ("const" if "value" in data else None)
    if kind is not None and kind not in ("data", "tokens", "mask", "const"):
        raise UsageError(f"input spec for '{key}': unknown kind '{kind}'", hint="data, tokens, mask or const")
    shape = tuple(data["shape"]) if data.get("shape") is not None else None
    dtype = check_dtype(str(data["dtype"])) if data.get("dtype") else None
    return InputSpec(key, shape, dtype, kind, data.get("low"), data.get("high"), data.get("value"))


def parse_dim(text: str) -> tuple[str, int | DimRange]:
    """`seq=64` (fixed) or `seq=8..128` (dynamic within bounds)."""
    name, sep, value = text.partition("=")
    name, value = name.strip(), value.strip()
    if not sep or not NAME.match(name):
        raise UsageError(f"invalid --dim '{text}'", hint="write NAME=SIZE or NAME=MIN..MAX, e.g. seq=8..128")
    if value.isdigit() and int(value) > 0:
        return name, int(value)
    match = re.match(r"^(\d+)\.\.(\d+)$", value)
    if match and 0 < int(match.group(1)) <= int(match.group(2)):
        return name, DimRange(int(match.group(1)), int(match.group(2)))
    raise UsageError(f"invalid --dim '{text}'", hint="a positive size (seq=64) or bounds MIN..MAX (seq=8..128)")


def input_specs(value: Any) -> list[InputSpec]:
    """The user's input specs from what the API or CLI was given: spec strings, InputSpecs, or a
    {name: dict or spec-string tail} mapping."""
    if not value:
        return []
    if isinstance(value, Mapping):
        return [
            spec_from_dict(str(k), v) if isinstance(v, Mapping) else parse_input_spec(f"{k}={v}")
            for k, v in value.items()
        ]
    return [v if isinstance(v, InputSpec) else parse_input_spec(str(v)) for v in value]


def sizes(value: Any) -> dict[str, int | DimRange]:
    """Dimension sizes from `--dim` strings or an API mapping {name: 8 | "8..128" | DimRange | (8, 128)}."""
    if not value:
        return {}
    if not isinstance(value, Mapping):
        return dict(parse_dim(str(v)) for v in value)
    out: dict[str, int | DimRange] = {}
    for name, size in value.items():
        if isinstance(size, (int, DimRange)):
            out[str(name)] = size
        elif isinstance(size, (tuple, list)) and len(size) == 2:
            out[str(name)] = DimRange(int(size[0]), int(size[1]))
        else:
            out.update([parse_dim(f"{name}={size}")])
    return out


# --- resolution against the model's declared inputs ----------------------------------------


def _undeclared(
    req: InputRequest, framework: str, arguments: Sequence[tuple[str, str | None]] | None
) -> list[TensorSpec]:
    """Specs of a model that declares no shapes: its arguments (name, dtype of a scalar or None
    for a tensor) take the positional shapes in order or their own --input-spec; without
    argument names, the positional shapes, else specs that carry shapes."""
    if arguments is None and req.shapes:
        return [TensorSpec(f"input_{i}", s, layout=guess_layout(s, framework)) for i, s in enumerate(req.shapes)]
    if arguments is None:
        arguments = [
            (s.key if not s.key.isdigit() else f"input_{s.key}", None) for s in req.specs if s.shape is not None
        ]
    if not arguments:
        raise UsageError(
            "the model does not declare its input shape",
            hint="pass --input-shape, e.g. --input-shape 1,3,224,224 (or --input-spec NAME=SHAPE per input)",
        )
    by_key = {s.key: s for s in req.specs}
    shapes = iter(req.shapes)
    out = []
    for i, (name, scalar) in enumerate(arguments):
        user = by_key.get(name) or by_key.get(str(i))
        if scalar is not None:
            out.append(TensorSpec(name, (), scalar))
            continue
        shape = user.shape if user is not None and user.shape is not None else next(shapes, None)
        if shape is None:
            raise UsageError(
                "the model does not declare its input shape" + (f" (input '{name}')" if len(arguments) > 1 else ""),
                hint="pass --input-shape, e.g. --input-shape 1,3,224,224 (or --input-spec NAME=SHAPE per input)",
            )
        static = tuple(None if isinstance(d, str) else d for d in shape)
        dims = tuple(d if isinstance(d, str) else None for d in shape)
        out.append(TensorSpec(name, static, layout=guess_layout(static, framework), dims=dims if any(dims) else ()))
    return out


def _matched(declared: list[TensorSpec], specs: Sequence[InputSpec]) -> dict[int, InputSpec]:
    names = [d.name for d in declared]
    out: dict[int, InputSpec] = {}
    for spec in specs:
        index = int(spec.key) if spec.key.isdigit() else (names.index(spec.key) if spec.key in names else None)
        if index is None or index >= len(declared):
            raise UsageError(
                f"the model has no input '{spec.key}'", hint=f"its inputs: {', '.join(names)} (or 0..{len(names) - 1})"
            )
        out[index] = spec
    return out


def _axes(declared: TensorSpec, user: tuple[int | str, ...] | None, origin: str) -> list[int | str]:
    """Each axis as a size or a dimension name: the model's, narrowed by the user's shape."""
    model = [
        d if d is not None else (declared.dims[i] if i < len(declared.dims) and declared.dims[i] else None)
        for i, d in enumerate(declared.shape)
    ]
    generated = [
        m if m is not None else ("batch" if i == 0 else f"{declared.name}_dim{i}") for i, m in enumerate(model)
    ]
    if user is None:
        return generated
    static_conflict = any(isinstance(m, int) and m != u for m, u in zip(declared.shape, user))  # a str too
    if len(user) != len(declared.shape) or static_conflict:
        shown = ",".join(map(str, user))
        raise UsageError(
            f"{origin} {shown or '(scalar)'} contradicts the model's declared input '{declared.name}' "
            f"{_show(declared)}",
            hint="omit it or make it match the model",
        )
    return list(user)


def _show(spec: TensorSpec) -> str:
    return (
        "["
        + ", ".join(
            str(d) if d is not None else ((spec.dims[i] if i < len(spec.dims) else None) or "?")
            for i, d in enumerate(spec.shape)
        )
        + "]"
    )


def _sizes(
    axes: list[list[int | str]],
    declared: list[TensorSpec],
    req: InputRequest,
    model_ranges: Mapping[str, DimRange],
    suggested: Mapping[str, int],
) -> tuple[dict[str, int], dict[str, DimRange]]:
    """Each dimension name → its size (fixed) or its bounds (dynamic), or a one-line UsageError."""
    fixed: dict[str, int] = {}
    ranges: dict[str, DimRange] = {}
    where: dict[str, tuple[int, int]] = {}
    for i, spec_axes in enumerate(axes):
        for axis, a in enumerate(spec_axes):
            if isinstance(a, str):
                where.setdefault(a, (i, axis))
    unknown = sorted(set(req.dims) - set(where))
    if unknown:
        raise UsageError(
            f"--dim {unknown[0]}: the model has no dimension of that name",
            hint=f"its dynamic dimensions: {', '.join(where) or 'none'}",
        )
    for name, (i, axis) in where.items():
        given = req.dims.get(name)
        if isinstance(given, int):
            fixed[name] = given
        elif isinstance(given, DimRange):
            ranges[name] = given
        elif name in model_ranges:
            ranges[name] = model_ranges[name]
        elif name.lower() in BATCH_NAMES or any(ax[:1] == [name] for ax in axes):
            fixed[name] = 1  # a dynamic batch: one sample
        else:
            raise _missing_size(declared[i], axis, name, suggested.get(name))
    return fixed, ranges


def _missing_size(spec: TensorSpec, axis: int, name: str, suggested: int | None) -> UsageError:
    """A dynamic dimension with no size: the flag to pass, with a size that fits its role (the
    model's own when it records one, e.g. an exporter's image size)."""
    rank = len(spec.shape)
    image = rank == 4 and axis in ((2, 3) if spec.layout != "NHWC" else (1, 2))
    if suggested:
        example: int | None = suggested
    elif image:
        example = next((d for d in spec.shape[1:] if isinstance(d, int) and d > 4), 224)
    elif spec.dtype.startswith("int") and rank == 2:
        example = 128  # a token sequence
    else:
        example = None
    suggestion = (
        f"--dim {name}={example} (or bounds: --dim {name}=MIN..MAX)"
        if example
        else f"--dim {name}=SIZE or --dim {name}=MIN..MAX"
    )
    return UsageError(
        f"input '{spec.name}' has dynamic dimension '{name}' (axis {axis}) with no size or bounds",
        hint=f"pass {suggestion}, or its full shape with --input-spec {spec.name}=...",
    )


def _kind(spec: TensorSpec, user: InputSpec | None) -> dict[str, Any]:
    """What values the input takes: the user's word, else the model's, else a guess from its type."""
    if user is not None and user.kind is not None:
        return {
            "kind": user.kind,
            "low": user.low,
            "high": user.high if user.high is not None else spec.high,
            "value": user.value,
        }
    if spec.kind != "data" or spec.high is not None:
        return {"kind": spec.kind, "low": spec.low, "high": spec.high, "value": spec.value}
    name = spec.name.lower()
    integer = spec.dtype.startswith(("int", "uint")) and spec.dtype not in ("int8", "uint8")
    if (integer or spec.dtype == "bool") and "mask" in name:
        return {"kind": "mask"}
    if integer and len(spec.shape) == 0:
        raise UsageError(
            f"input '{spec.name}' is a {spec.dtype} scalar and its value cannot be guessed (a sample rate? a flag?)",
            hint=f"pass it, e.g. --input-spec {spec.name}=:{spec.dtype}:16000",
        )
    if integer and any(word in name for word in TOKEN_WORDS):
        return {"kind": "tokens"}
    return {"kind": "data"}


def resolve(
    declared: list[TensorSpec] | None,
    req: InputRequest,
    framework: str,
    model_ranges: Mapping[str, DimRange] | None = None,
    suggested: Mapping[str, int] | None = None,
    arguments: Sequence[tuple[str, str | None]] | None = None,
) -> Signature:
    """The concrete signature of an export (sizes, dynamic dims and their bounds, dtypes, kinds)."""
    dtypes = [check_dtype(d) for d in req.dtypes]
    if declared is None:
        declared = _undeclared(req, framework, arguments)
        req = replace(req, shapes=[])
    elif req.shapes and len(req.shapes) != len(declared):
        raise UsageError(
            f"the model has {len(declared)} input(s) but {len(req.shapes)} --input-shape value(s) were given",
            hint=f"name them instead: --input-spec {declared[0].name}=SHAPE",
        )
    if dtypes and len(dtypes) not in (1, len(declared)):
        raise UsageError(f"{len(dtypes)} --input-dtype values for {len(declared)} inputs")
    matched = _matched(declared, req.specs)
    axes = []
    for i, spec in enumerate(declared):
        user = matched.get(i)
        shape = user.shape if user is not None and user.shape is not None else (req.shapes[i] if req.shapes else None)
        origin = "--input-spec" if user is not None and user.shape is not None else "--input-shape"
        axes.append(_axes(spec, shape, origin))
    fixed, ranges = _sizes(axes, declared, req, model_ranges or {}, suggested or {})
    inputs = []
    for i, (spec, spec_axes) in enumerate(zip(declared, axes)):
        user = matched.get(i)
        shape = tuple(a if isinstance(a, int) else fixed.get(a) or ranges[a].example for a in spec_axes)
        dims = tuple(a if isinstance(a, str) and a in ranges else None for a in spec_axes)
        dtype = (user.dtype if user is not None and user.dtype else None) or (
            dtypes[0] if len(dtypes) == 1 else dtypes[i] if dtypes else spec.dtype
        )
        resolved = replace(spec, shape=shape, dims=dims if any(dims) else (), dtype=dtype)
        resolved = replace(resolved, **_kind(resolved, user))
        _check_concrete(resolved)
        inputs.append(resolved)
    return Signature(inputs, ranges)


# --- sample data ------------------------------------------------------------------------------


def sample(specs: Sequence[TensorSpec], n: int, seed: int = 0, low: float = 0.0, high: float = 1.0) -> list[list[Any]]:
    """`n` sets of inputs: data uniform in its range ([low, high) by default), token ids inside
    the vocabulary, masks of ones (every other sample padded at the end), constants as given."""
    rng = np.random.default_rng(seed)
    return [[_one(spec, rng, i, low, high) for spec in specs] for i in range(n)]


def _one(spec: TensorSpec, rng: np.random.Generator, index: int, low: float, high: float) -> Any:
    shape = tuple(static_size(d) for d in spec.shape)
    dtype = np.dtype(spec.dtype)
    if spec.kind == "const":
        return np.full(shape, spec.value if spec.value is not None else 0, dtype=dtype)
    if spec.kind == "mask":
        mask = np.ones(shape, dtype=dtype)
        if index % 2 and shape and shape[-1] > 1:
            mask[..., shape[-1] - max(1, shape[-1] // 4) :] = 0  # a padded sequence
        return mask
    if spec.kind == "tokens":
        top = int(spec.high) if spec.high is not None else max(2, int(high) + 1)
        return rng.integers(0, top, size=shape).astype(dtype)
    lo = spec.low if spec.low is not None else low
    hi = spec.high if spec.high is not None else high
    if dtype.kind == "f":
        return rng.uniform(lo, hi, size=shape).astype(dtype)
    if dtype.kind == "b":
        return rng.integers(0, 2, size=shape).astype(bool)
    return rng.integers(int(lo), max(int(lo) + 2, int(hi) + 1), size=shape).astype(dtype)


__all__ = [
    "DTYPES",
    "InputRequest",
    "InputSpec",
    "parse_dim",
    "parse_input_spec",
    "resolve",
    "sample",
    "spec_from_dict",
]
