"""Documents of generative decoders (KV-cache LLMs): the manifest next to the artifact and the
generation profile report, with prefill and decode kept apart.

A decoder is validated by greedy decoding token for token (not by tensor tolerances), and
profiled as a generation loop (time to first token, decode tokens/s), so both documents have
their own schemas; `edgekit profile` tells the two kinds of artifact apart by the artifact's
own metadata.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from edge_kit.documents.base import Record
from edge_kit.documents.target import TargetSummary

MANIFEST_SCHEMA = "edgekit.generative-manifest"
REPORT_SCHEMA = "edgekit.generation-profile"
SCHEMA_VERSION = 1


class GenArtifact(Record):
    """The exported decoder file."""

    file: str
    format: Literal["executorch", "onnx", "tflite"]
    runtime: str
    precision: Literal["fp32", "int8", "int4"]
    sha256: str = Field(pattern="^[0-9a-f]{64}$")
    size_bytes: int = Field(ge=0)
    quantization: dict[str, Any]
    notes: list[str]


class GenSource(Record):
    """The causal LM the artifact was exported from."""

    origin: str
    kind: Literal["checkpoint", "config", "preset", "live"]
    family: str
    model_type: str
    parameters: int
    tied_embeddings: bool


class CacheLayout(Record):
    """The static KV cache: one [1, kv_heads, cache_len, head_dim] key and value per layer."""

    num_layers: int
    num_kv_heads: int
    head_dim: int
    cache_len: int = Field(ge=2)
    vocab_size: int
    max_positions: int
    max_prefill: int
    cache_bytes_fp32: int


class GreedyValidation(Record):
    """N greedy steps of the artifact in its runtime against the model it implements, token for token."""

    status: Literal["ok", "mismatch", "failed"]
    reference: str
    runtime: str
    prompt: list[int]
    steps: int
    matched_steps: int
    artifact_tokens: list[int]
    reference_tokens: list[int]
    max_abs_logit_diff: float | None
    forced_matches: int
    forced_max_abs_logit_diff: float | None
    divergence_margin: float | None
    message: str
    tie_tolerance: float | None = Field(default=None, description="logits: a divergence within it is a near tie")
    ties: int = Field(default=0, description="teacher-forced steps accepted as near ties")


class GenTimings(Record):
    load_s: float
    export_s: float
    validate_s: float


class EncoderDecoderFacts(Record):
    """An encoder-decoder artifact (Whisper): the encoder's input and how the check fed it."""

    kind: Literal["encoder-decoder"] = "encoder-decoder"
    methods: list[str] = Field(description="ExecuTorch methods, or the ONNX folder's files")
    input_features: list[int] = Field(description="encoder input shape [1, mel bins, frames]")
    encoder_hidden_states: list[int] = Field(description="encoder output shape [1, positions, d_model]")
    decoder_start_token_id: int
    validation_features: str = Field(description="the fixed input of the greedy check")
    cross_attention: str = Field(description="how the decoder gets the encoder's keys and values")


class GenerativeManifest(Record):
    """The manifest next to a generative artifact (`<artifact>.json`)."""

    schema_: Literal["edgekit.generative-manifest"] = Field(alias="schema")
    schema_version: int = Field(ge=1, le=SCHEMA_VERSION)
    edgekit_version: str
    created_utc: str
    status: Literal["ok", "mismatch"]
    artifact: GenArtifact
    source: GenSource
    target: TargetSummary
    cache: CacheLayout
    validation: GreedyValidation
    versions: dict[str, str | None]
    timings_s: GenTimings
    encoder: EncoderDecoderFacts | None = Field(default=None, description="encoder-decoder artifacts only")


class ProfiledDecoder(Record):
    path: str
    file: str
    format: str
    size_bytes: int
    sha256: str
    precision: str | None
    manifest: bool
    validation_status: str | None
    cache_len: int
    vocab_size: int
    max_prefill: int


class GenSettings(Record):
    prompt_len: int = Field(ge=1)
    new_tokens: int = Field(ge=1)
    runs: int = Field(ge=1)
    warmup_runs: int = Field(ge=0)
    num_threads: int = Field(ge=1)


class Prefill(Record):
    """The prompt through the cache in one call, to the first token (time to first token)."""

    kind: Literal["emulated", "measured"]
    prompt_len: int
    ttft_p50_ms: float
    ttft_mean_ms: float
    ttft_min_ms: float
    samples: int
    tokens_per_s: float
    encoder_p50_ms: float | None = None  # an encoder-decoder's encoder run, inside the time to first token


class Decode(Record):
    """One token at a time through the cache."""

    kind: Literal["emulated", "measured"]
    new_tokens: int
    ms_per_token_p50: float
    ms_per_token_mean: float
    ms_per_token_min: float
    samples: int
    tokens_per_s: float  # from the mean step time
    tokens: list[int] = []  # the greedy tokens of the last timed generation (the same on every backend)


class GenMemory(Record):
    peak_rss_kb: int | None
    rss_loaded_kb: int | None
    kv_cache_host_bytes: int | None
    note: str


class PhaseEstimate(Record):
    """The device latency of one phase, estimated from its instruction counts (edge_kit/estimate)."""

    instructions: float
    estimated_ms: float
    low_ms: float
    high_ms: float
    interval_pct: float


class GenEstimate(Record):
    available: bool
    reason: str | None = None
    device: str | None = None
    core: str | None = None
    clock_ghz: float | None = None
    calibration: str | None = None
    prefill: PhaseEstimate | None = None
    decode_per_token: PhaseEstimate | None = None
    decode_tokens_per_s: float | None = None
    method: str | None = None
    notes: list[str] = Field(default_factory=list)


class GenerationReport(Record):
    """`edgekit profile` of a generative artifact: load, prefill (TTFT) and decode, apart."""

    schema_: Literal["edgekit.generation-profile"] = Field(alias="schema")
    schema_version: int = Field(ge=1, le=SCHEMA_VERSION)
    edgekit_version: str
    created_utc: str
    artifact: ProfiledDecoder
    target: TargetSummary
    backend: dict[str, Any]
    settings: GenSettings
    runtime: dict[str, Any]
    kind: Literal["emulated", "measured"]
    note: str
    load_ms: float
    prefill: Prefill
    decode: Decode
    memory: GenMemory
    estimate: GenEstimate
    machine: dict[str, Any]
    harness: dict[str, Any]


class BundledDecoder(Record):
    """The decoder file inside a Linux bundle's wheel."""

    file: str
    format: Literal["executorch", "onnx", "tflite"]
    runtime: str
    precision: Literal["fp32", "int8", "int4"]
    exported_sha256: str = Field(pattern="^[0-9a-f]{64}$")
    size_bytes: int = Field(ge=0)


class BundledCheck(Record):
    """The export's greedy check: the self-test and `--verify-on` decode `prompt` and expect `tokens`."""

    status: Literal["ok", "mismatch"]
    runtime: str
    prompt: list[int]
    tokens: list[int]


class DecoderBundleMetadata(Record):
    """`<name>.metadata.json` in a generative decoder's wheel: what `generate()` needs and checks."""

    schema_: Literal["edgekit.decoder-bundle"] = Field(alias="schema")
    schema_version: int = Field(ge=1, le=SCHEMA_VERSION)
    name: str
    version: str
    edgekit_version: str
    model: BundledDecoder
    source: GenSource
    cache: CacheLayout
    validation: BundledCheck
    versions: dict[str, str | None]
