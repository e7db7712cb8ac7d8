"""Constants the Kotlin and Swift wrappers are generated with, from the metadata.

Both wrappers take float inputs in the model's row-major layout, normalize them,
quantize int8/uint8 inputs and dequantize outputs; these are the numbers they need.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from edge_kit.errors import UnsupportedError

WRAPPER_DTYPES = ("float32", "int8", "uint8")


def check_dtypes(metadata: dict[str, Any], platform: str) -> None:
    """The generated wrappers feed float32, int8 and uint8 tensors only."""
    for kind in ("inputs", "outputs"):
        for spec in metadata[kind]:
            if spec["dtype"] not in WRAPPER_DTYPES:
                raise UnsupportedError(
                    f"the {platform} wrapper handles {', '.join(WRAPPER_DTYPES)} tensors; "
                    f"{kind[:-1]} '{spec['name']}' is {spec['dtype']}",
                    hint="package for linux (its Python API takes any dtype)",
                )


def channel_stride(spec: dict[str, Any]) -> int:
    """Elements between neighbouring channels of the normalization axis (0: one mean/std)."""
    norm = spec.get("normalization") or {}
    axis = norm.get("channel_axis")
    if axis is None or max(len(norm.get("mean", [])), len(norm.get("std", []))) == 1:
        return 0
    return int(math.prod(spec["shape"][axis + 1 :]))


def _norm(spec: dict[str, Any]) -> tuple[float, list[float], list[float]]:
    norm = spec.get("normalization") or {"scale": 1.0, "mean": [0.0], "std": [1.0]}
    channels = max(len(norm["mean"]), len(norm["std"]))
    mean = norm["mean"] * channels if len(norm["mean"]) == 1 else norm["mean"]
    std = norm["std"] * channels if len(norm["std"]) == 1 else norm["std"]
    return float(norm["scale"]), [float(v) for v in mean], [float(v) for v in std]


def _quant(spec: dict[str, Any]) -> tuple[float, int]:
    q = spec.get("quantization") or {}
    return float(q.get("scale") or 0.0), int(q.get("zero_point") or 0)


def constants(metadata: dict[str, Any]) -> dict[str, list[Any]]:
    """Per-tensor lists: names, shapes, dtypes, quantization and normalization constants."""
    inputs, outputs = metadata["inputs"], metadata["outputs"]
    norms = [_norm(s) for s in inputs]
    return {
        "input_names": [s["name"] for s in inputs],
        "input_shapes": [s["shape"] for s in inputs],
        "input_dtypes": [s["dtype"] for s in inputs],
        "input_quant_scales": [_quant(s)[0] for s in inputs],
        "input_quant_zero_points": [_quant(s)[1] for s in inputs],
        "norm_scales": [n[0] for n in norms],
        "norm_means": [n[1] for n in norms],
        "norm_stds": [n[2] for n in norms],
        "norm_channel_strides": [channel_stride(s) for s in inputs],
        "output_names": [s["name"] for s in outputs],
        "output_shapes": [s["shape"] for s in outputs],
        "output_dtypes": [s["dtype"] for s in outputs],
        "output_quant_scales": [_quant(s)[0] for s in outputs],
        "output_quant_zero_points": [_quant(s)[1] for s in outputs],
    }


def string_literal(text: str, language: str) -> str:
    """A double-quoted string literal for "kotlin" (which interpolates `$`) or "swift"."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    if language == "kotlin":
        escaped = escaped.replace("$", "\\$")
    return f'"{escaped}"'


def kotlin(value: str | float) -> str:
    """A Kotlin literal: "text" (escaped), 3, 0.5f."""
    if isinstance(value, str):
        return string_literal(value, "kotlin")
    return f"{value!r}f" if isinstance(value, float) else str(int(value))


def kotlin_longs(values: list[int]) -> str:
    return "longArrayOf(" + ", ".join(str(int(v)) for v in values) + ")"


def kotlin_floats(values: list[float]) -> str:
    return "floatArrayOf(" + ", ".join(kotlin(float(v)) for v in values) + ")"


def swift(value: Any) -> str:
    """A Swift literal: "text" (escaped), 3, 0.5, or an array of them ([[1, 10]])."""
    if isinstance(value, str):
        return string_literal(value, "swift")
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(swift(v) for v in value) + "]"
    return repr(value) if isinstance(value, float) else str(int(value))


# Filters of the package templates: {{ names | map("kotlin") | join(", ") }}, {{ shapes | swift }}.
FILTERS: dict[str, Callable[..., str]] = {
    "kotlin": kotlin,
    "kotlin_longs": kotlin_longs,
    "kotlin_floats": kotlin_floats,
    "swift": swift,
}
