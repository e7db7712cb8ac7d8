"""Tensor specs: what a model takes and returns (names, shapes, dtypes, layout).

The input signature comes from the model when it declares one; otherwise from
`--input-shape` / `--input-dtype`. Missing, dynamic or contradictory shapes are
refused here with one clear line, before any tensor is allocated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from edge_kit.errors import UsageError

# Refuse inputs above this many elements (2^28 ≈ 1 GiB of float32) before allocating.
MAX_INPUT_ELEMENTS = 1 << 28
DTYPES = ("float32", "float16", "int8", "uint8", "int32", "int64", "bool")

Dim = int | None  # None = dynamic / unknown


@dataclass(frozen=True)
class TensorSpec:
    """A tensor's name, shape, dtype and (when it is an image or sequence) layout.

    `scale`/`zero_point` are set for quantized (int8/uint8) tensors of an artifact.
    """

    name: str
    shape: tuple[Dim, ...]
    dtype: str = "float32"
    layout: str | None = None
    scale: float | None = None
    zero_point: int | None = None

    @property
    def static(self) -> bool:
        return all(isinstance(d, int) and d > 0 for d in self.shape)

    @property
    def numel(self) -> int:
        return int(np.prod([d or 1 for d in self.shape], dtype=np.int64))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "shape": list(self.shape), "dtype": self.dtype, "layout": self.layout}
        if self.scale is not None:
            out.update(scale=self.scale, zero_point=self.zero_point)
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
        )


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
        raise UsageError(f"invalid input shape '{text}'", hint="e.g. --input-shape 1,3,224,224")
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


def _merge_one(declared: TensorSpec, user: tuple[int, ...] | None) -> TensorSpec:
    """Combine a declared spec (maybe with dynamic dims) with a user shape."""
    if user is None:
        if any(d is None for d in declared.shape[1:]):
            raise UsageError(
                f"input '{declared.name}' has dynamic dimensions {list(declared.shape)}",
                hint="pass --input-shape with concrete values, e.g. " + ",".join(str(d or 224) for d in declared.shape),
            )
        shape = tuple(1 if d is None else d for d in declared.shape)  # dynamic batch -> 1
        return replace(declared, shape=shape)
    if len(user) != len(declared.shape) or any(d is not None and d != u for d, u in zip(declared.shape, user)):
        raise UsageError(
            f"--input-shape {','.join(map(str, user))} contradicts the model's declared "
            f"input '{declared.name}' {list(declared.shape)}",
            hint="omit --input-shape or make it match the model",
        )
    return replace(declared, shape=user)


def resolve_inputs(
    declared: list[TensorSpec] | None,
    user_shapes: Sequence[tuple[int, ...]],
    user_dtypes: Sequence[str],
    framework: str,
) -> list[TensorSpec]:
    """The concrete input specs for an export, or a clear UsageError."""
    dtypes = [check_dtype(d) for d in user_dtypes]
    if declared:
        if user_shapes and len(user_shapes) != len(declared):
            raise UsageError(
                f"the model has {len(declared)} input(s) but {len(user_shapes)} --input-shape value(s) were given"
            )
        specs = [_merge_one(d, user_shapes[i] if user_shapes else None) for i, d in enumerate(declared)]
    elif user_shapes:
        specs = [
            TensorSpec(name=f"input_{i}", shape=s, layout=guess_layout(s, framework)) for i, s in enumerate(user_shapes)
        ]
    else:
        raise UsageError(
            "the model does not declare its input shape", hint="pass --input-shape, e.g. --input-shape 1,3,224,224"
        )
    if dtypes:
        if len(dtypes) not in (1, len(specs)):
            raise UsageError(f"{len(dtypes)} --input-dtype values for {len(specs)} inputs")
        specs = [replace(s, dtype=dtypes[0] if len(dtypes) == 1 else dtypes[i]) for i, s in enumerate(specs)]
    for spec in specs:
        _check_concrete(spec)
    return specs


def random_inputs(
    specs: Sequence[TensorSpec], n: int, seed: int = 0, low: float = 0.0, high: float = 1.0
) -> list[list[np.ndarray]]:
    """`n` sets of inputs drawn uniformly from [low, high) (integers: small non-negative)."""
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(n):
        arrays = []
        for spec in specs:
            shape = tuple(int(d) for d in spec.shape)
            if spec.dtype.startswith(("float",)):
                arrays.append(rng.uniform(low, high, size=shape).astype(spec.dtype))
            elif spec.dtype == "bool":
                arrays.append(rng.integers(0, 2, size=shape).astype(bool))
            else:
                arrays.append(rng.integers(0, max(2, int(high) + 1), size=shape).astype(spec.dtype))
        batches.append(arrays)
    return batches
