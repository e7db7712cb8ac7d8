"""Typed records of the generative engine: cache layout, artifacts, validation, quality, profile.

Plain frozen dataclasses (no torch): every record turns into JSON with `to_dict()`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Precision = Literal["fp32", "int8", "int4"]
PRECISIONS: tuple[str, ...] = ("fp32", "int8", "int4")
Status = Literal["ok", "mismatch", "failed"]


def _jsonable(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


class Record:
    """Mixin: `to_dict()` for JSON documents."""

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(self)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class KVLayout(Record):
    """Shape of a decoder's static KV cache: one [1, kv_heads, cache_len, head_dim] key and value per layer."""

    num_layers: int
    num_kv_heads: int
    head_dim: int
    cache_len: int
    vocab_size: int
    max_positions: int

    @property
    def cache_bytes(self) -> int:
        """fp32 bytes of the whole cache (keys and values of every layer)."""
        return 2 * self.num_layers * self.num_kv_heads * self.cache_len * self.head_dim * 4

    def cache_names(self, prefix: str) -> list[str]:
        """`{prefix}_key_0, {prefix}_value_0, ...` in layer order."""
        return [f"{prefix}_{kind}_{i}" for i in range(self.num_layers) for kind in ("key", "value")]


@dataclass(frozen=True)
class GenerativeArtifact(Record):
    """One exported decoder with its static KV cache."""

    path: Path
    format: Literal["executorch", "onnx", "tflite"]
    precision: str
    family: str
    layout: KVLayout
    max_prefill: int
    size_bytes: int
    export_seconds: float
    quantization: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class GreedyCheck(Record):
    """N greedy steps of the artifact in its runtime against a reference model, token for token."""

    status: Status
    reference: str  # "source fp32" or the quantized source the artifact was made from
    prompt: tuple[int, ...]
    steps: int
    matched_steps: int  # leading steps whose tokens agree
    artifact_tokens: tuple[int, ...]
    reference_tokens: tuple[int, ...]
    max_abs_logit_diff: float  # over the matched steps (same context on both sides)
    runtime: str
    message: str = ""
    # The artifact fed the reference's tokens (same context at every step, even after a divergence):
    forced_matches: int = 0  # steps whose argmax equals the reference's token
    forced_max_abs_logit_diff: float = float("nan")
    # At the first divergence: how far apart the two tokens were in the reference's own logits
    # (a margin below the logit difference means a near tie broken by rounding, not a wrong export).
    divergence_margin: float | None = None
    # Near ties accepted (check_greedy's tie_tolerance, logits): teacher-forced steps whose token
    # differs only where the reference's own margin is within the tolerance.
    tie_tolerance: float | None = None
    ties: int = 0


@dataclass(frozen=True)
class QualityResult(Record):
    """Teacher-forced next-token quality on a fixed token sequence, in the artifact's runtime."""

    tokens: int
    agreement: float  # share of positions where argmax(artifact) == argmax(fp32 source)
    perplexity: float  # the artifact's, on the sequence
    reference_perplexity: float  # the fp32 source's
    max_abs_logit_diff: float
    sequence: str  # how the sequence was made


@dataclass(frozen=True)
class GenerationProfile(Record):
    """Host (or harness) timing of prefill and decode, and memory."""

    runtime: str
    prompt_len: int
    new_tokens: int
    load_ms: float
    ttft_ms: float  # prefill of prompt_len tokens, to the first token's logits
    decode_ms_per_token: float
    decode_tokens_per_s: float
    peak_rss_kb: int | None
    runs: int
    num_threads: int
    where: str = "host (measured)"
    details: dict[str, Any] = field(default_factory=dict)
