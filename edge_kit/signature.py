"""Tensor specs: what a model takes and returns (names, shapes, dtypes, layout, kind of values).

The input signature comes from the model when it declares one (ONNX value infos with symbolic
dims, Keras input specs, ExportedProgram range constraints, TorchScript's declared inputs);
the user's input specs (`edge_kit.inputspec`) fill gaps or narrow it. A dimension stays
dynamic in the export when it has bounds (the model's, or `--dim seq=8..128`); a dynamic batch
with none becomes 1; any other dynamic dimension without a size is refused in one line that
proposes one. Missing or contradictory shapes are refused before any tensor is allocated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from edge_kit.errors import UsageError

# Refuse inputs above this many elements (2^28 ≈ 1 GiB of float32) before allocating.
MAX_INPUT_ELEMENTS = 1 << 28
DTYPES = ("float32", "float16", "int8", "uint8", "int32", "int64", "bool")
KINDS = ("data", "tokens", "mask", "const")

Dim = int | None  # None = dynamic / unknown


@dataclass(frozen=True)
class DimRange:
    """The sizes a dynamic dimension takes: [min, max]; artifacts are made at `example`."""

    min: int
    max: int

    @property
    def example(self) -> int:
        return self.max

    def sizes(self) -> tuple[int, ...]:
        """The sizes validation runs at: min, middle, max."""
        return tuple(sorted({self.min, (self.min + self.max) // 2, self.max}))

    def to_dict(self) -> dict[str, int]:
        return {"min": self.min, "max": self.max}


@dataclass(frozen=True)
class TensorSpec:
    """A tensor's name, shape, dtype and (when it is an image or sequence) layout.

    `dims` names each axis that stays dynamic in the export (None for static ones; empty when
    all are static). `kind` says what values it takes: data (in [low, high)), tokens (ids in
    [0, high)), mask (ones, some padded), const (`value` every time). `scale`/`zero_point` are
    set for quantized (int8/uint8) tensors of an artifact.
    """

    name: str
    shape: tuple[Dim, ...]
    dtype: str = "float32"
    layout: str | None = None
    scale: float | None = None
    zero_point: int | None = None
    dims: tuple[str | None, ...] = ()
    kind: str = "data"
    low: float | None = None
    high: float | None = None
    value: float | None = None

    @property
    def static(self) -> bool:
        return all(isinstance(d, int) and d > 0 for d in self.shape)

    @property
    def numel(self) -> int:
        count = 1
        for d in self.shape:
            count *= d or 1
        return count

    def dynamic_axes(self) -> dict[int, str]:
        """{axis: symbol} of the axes that stay dynamic."""
        return {i: d for i, d in enumerate(self.dims) if d}

    def at(self, sizes: Mapping[str, int]) -> TensorSpec:
        """This spec with its dynamic axes at the given sizes."""
        names = (*self.dims, *(None,) * (len(self.shape) - len(self.dims)))
        shape = tuple(sizes.get(name, d) if name else d for name, d in zip(names, self.shape))
        return replace(self, shape=shape)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "shape": list(self.shape), "dtype": self.dtype, "layout": self.layout}
        if self.scale is not None:
            out.update(scale=self.scale, zero_point=self.zero_point)
        if any(self.dims):
            out["dims"] = list(self.dims)
        if self.kind != "data":
            out["kind"] = self.kind
        out.update({k: getattr(self, k) for k in ("low", "high", "value") if getattr(self, k) is not None})
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TensorSpec:
        return cls(
            name=str(data["name"]),
            shape=tuple(data["shape"]),
            dtype=str(data["dtype"]),
            layout=data.get("layout"),
            scale=data.get("scale"),
            zero_point=data.get("zero_point"),
            dims=tuple(data.get("dims") or ()),
            kind=str(data.get("kind", "data")),
            low=data.get("low"),
            high=data.get("high"),
            value=data.get("value"),
        )


@dataclass(frozen=True)
class Signature:
    """Resolved inputs plus the bounds of the dimensions that stay dynamic."""

    inputs: list[TensorSpec]
    ranges: dict[str, DimRange] = field(default_factory=dict)

    def size_sets(self) -> list[dict[str, int]]:
        """Sizes to validate at: every dynamic dim at its min, its middle, its max (together)."""
        if not self.ranges:
            return []
        sizes = [r.sizes() for r in self.ranges.values()]
        count = max(len(s) for s in sizes)
        return [{name: s[min(i, len(s) - 1)] for name, s in zip(self.ranges, sizes)} for i in range(count)]


def static_size(d: Dim) -> int:
    """A dimension that must be known by now (the spec was resolved); None is a caller's bug."""
    if d is None:
        raise TypeError("a dynamic (None) dimension where a resolved size was expected")
    return int(d)


def parse_shape(text: str) -> tuple[int, ...]:
    """Parse `1,3,224,224` (or `1x3x224x224`) into a tuple of positive ints."""
    parts = [p.strip() for p in text.replace("x", ",").split(",") if p.strip()]
    try:
        dims = tuple(int(p) for p in parts)
    except ValueError:
        raise UsageError(
            f"invalid input shape '{text}'", hint="write it as comma-separated integers, e.g. 1,3,224,224"
        ) from None
    if not dims:
        raise UsageError(
            f"invalid input shape '{text}'",
            hint="e.g. --input-shape 1,3,224,224 (a scalar: --input-spec NAME=:int64:VALUE)",
        )
    return dims


def check_dtype(dtype: str) -> str:
    if dtype not in DTYPES:
        raise UsageError(f"unsupported input dtype '{dtype}'", hint=f"use one of {', '.join(DTYPES)}")
    return dtype


def guess_layout(shape: Sequence[Dim], framework: str) -> str | None:
    """NCHW/NHWC (4-D) or NCW/NWC (3-D) by framework convention; None otherwise."""
    if len(shape) == 4:
        if framework == "onnx":
            return "NHWC" if shape[-1] in (1, 3, 4) and shape[1] not in (1, 3, 4) else "NCHW"
        return "NHWC" if framework == "tensorflow" else "NCHW"
    if len(shape) == 3:
        return "NWC" if framework == "tensorflow" else "NCW"
    return None


def _check_concrete(spec: TensorSpec) -> None:
    if any(d is not None and d <= 0 for d in spec.shape):
        raise UsageError(
            f"input '{spec.name}' has a zero or negative dimension {list(spec.shape)}",
            hint="every dimension must be a positive integer",
        )
    if spec.numel > MAX_INPUT_ELEMENTS:
        raise UsageError(
            f"input '{spec.name}' shape {list(spec.shape)} has {spec.numel:,} elements, "
            f"above the limit of {MAX_INPUT_ELEMENTS:,}",
            hint="pass a realistic --input-shape for an edge model",
        )


def resolve_inputs(
    declared: list[TensorSpec] | None,
    user_shapes: Sequence[tuple[int, ...]],
    user_dtypes: Sequence[str],
    framework: str,
) -> list[TensorSpec]:
    """The concrete input specs for an export, or a clear UsageError (shapes and dtypes only)."""
    from edge_kit.inputspec import InputRequest, resolve

    return resolve(declared, InputRequest(shapes=list(user_shapes), dtypes=list(user_dtypes)), framework).inputs


def random_inputs(
    specs: Sequence[TensorSpec], n: int, seed: int = 0, low: float = 0.0, high: float = 1.0
) -> list[list[Any]]:
    """`n` sets of inputs with values that fit each input's kind (see `edge_kit.inputspec.sample`)."""
    from edge_kit.inputspec import sample

    return sample(specs, n, seed=seed, low=low, high=high)
