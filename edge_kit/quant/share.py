"""How much of an "int8" artifact really is int8, read from the artifact itself.

Each format reads its own file (`Format.quantized_share`: `share_tflite`, `share_onnx`,
`share_pte`) into one `Int8Share`: the constant (weight) bytes stored as 8-bit integers
against those stored as floats, and the multiply-accumulates of the heavy ops (conv,
matmul / fully connected, embedding lookups: one per element gathered) whose kernel
takes int8 operands against those that run in float. Other constants (int32 biases,
int64 shapes) and element-wise ops count on neither side.

`judge` turns a share into what the user must hear: a warning when an int8 artifact
quantized little (weights under half int8, or more than half its fp32 size), and an
ExportError (exit 5) when nothing at all is int8: it is never written as an int8 artifact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from edge_kit.errors import ExportError

MIN_WEIGHT_SHARE = 0.5  # below this share of int8 weight bytes an int8 artifact is a warning
MAX_SIZE_RATIO = 0.5  # above this fraction of the fp32 size, likewise
INT8_DTYPES = ("int8", "uint8", "int4", "uint4")
FLOAT_DTYPES = ("float32", "float16", "bfloat16", "float64")
_FP32_BYTES = {"int8": 4.0, "uint8": 4.0, "int4": 8.0, "uint4": 8.0, "float16": 2.0, "bfloat16": 2.0}


@dataclass
class Int8Share:
    """Weight bytes and MACs of one artifact, split into int8 and float."""

    weight_int8: int = 0
    weight_float: int = 0
    macs_int8: int = 0
    macs_float: int = 0
    fp32_weight_bytes: float = 0.0  # what the counted weights would take in float32
    largest_float: tuple[str, int] | None = None  # (description, bytes) of the biggest float weight
    largest_float_op: tuple[str, int] | None = None  # (description, MACs) of the heaviest float op
    notes: dict[str, Any] = field(default_factory=dict)  # format-specific facts (e.g. stored twice)

    def weight(self, name: str, dtype: str, nbytes: int) -> None:
        """Count one constant tensor (other dtypes count on neither side)."""
        if dtype in INT8_DTYPES:
            self.weight_int8 += nbytes
        elif dtype in FLOAT_DTYPES:
            self.weight_float += nbytes
            if self.largest_float is None or nbytes > self.largest_float[1]:
                self.largest_float = (name, nbytes)
        else:
            return
        self.fp32_weight_bytes += nbytes * _FP32_BYTES.get(dtype, 1.0)

    def op(self, name: str, macs: int, int8: bool) -> None:
        """Count one heavy op's multiply-accumulates (lookups: elements gathered)."""
        if int8:
            self.macs_int8 += macs
            return
        self.macs_float += macs
        if macs and (self.largest_float_op is None or macs > self.largest_float_op[1]):
            self.largest_float_op = (name, macs)

    @property
    def weights(self) -> float | None:
        total = self.weight_int8 + self.weight_float
        return self.weight_int8 / total if total else None

    @property
    def macs(self) -> float | None:
        total = self.macs_int8 + self.macs_float
        return self.macs_int8 / total if total else None

    @property
    def nothing(self) -> bool:
        """True when no weight and no heavy op is int8."""
        return self.weight_int8 == 0 and self.macs_int8 == 0

    def estimated_fp32_size(self, size: int) -> int:
        """The artifact's size with its counted weights in float32 (when no fp32 artifact was made)."""
        return int(size - self.weight_int8 - self.weight_float + self.fp32_weight_bytes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "weights": _round(self.weights),
            "macs": _round(self.macs),
            "weight_bytes": {"int8": self.weight_int8, "float": self.weight_float},
            "mac_counts": {"int8": self.macs_int8, "float": self.macs_float},
            "largest_float": _part(self.largest_float, "bytes"),
            "largest_float_op": _part(self.largest_float_op, "MACs"),
            **self.notes,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _part(part: tuple[str, int] | None, unit: str) -> str | None:
    return None if part is None else f"{part[0]} ({part[1]:,} {unit})"


def size_ratio(share: Int8Share, size: int, fp32_size: int | None) -> dict[str, Any]:
    """The artifact's size against fp32: the real fp32 artifact when one was made, else estimated."""
    if fp32_size:
        return {"ratio": round(size / fp32_size, 4), "fp32_bytes": fp32_size, "fp32": "measured"}
    estimate = share.estimated_fp32_size(size)
    return {
        "ratio": round(size / estimate, 4) if estimate else None,
        "fp32_bytes": estimate,
        "fp32": "estimated: this artifact with its int8 weights counted at 4 bytes",
    }


def judge(share: Int8Share, precision: str, ratio: float | None, hint: str, kept_float: bool = False) -> list[str]:
    """Warnings for an int8 artifact that quantized little; an ExportError (exit 5) if it quantized
    nothing, unless layers were kept in float on purpose (`kept_float`: an accuracy budget, a
    recipe's `keep_float_ops`).

    `hint` says what the user can pass to quantize more (format- and route-specific)."""
    biggest = _part(share.largest_float, "bytes") or _part(share.largest_float_op, "MACs") or "unknown"
    if share.nothing and (share.weight_float or share.macs_float) and not kept_float:
        raise ExportError(
            f"the {precision} artifact holds no int8 weight and runs no int8 op: nothing was quantized "
            f"(largest float part: {biggest}); it is not written as {precision}",
            hint=hint,
        )
    problems = []
    if share.weights is not None and share.weights < MIN_WEIGHT_SHARE:
        problems.append(f"only {share.weights:.0%} of its weight bytes are int8")
    if ratio is not None and ratio > MAX_SIZE_RATIO:
        problems.append(f"it is {ratio:.2f}x the fp32 size")
    if not problems:
        return []
    return [f"{precision} artifact quantized little: {' and '.join(problems)}; largest float part: {biggest}; {hint}"]
