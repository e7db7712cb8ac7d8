"""The bench leaderboard (`bench.json`, `edgekit bench --json`): one row per format × precision cell,
read back from the cell's own manifest and profile report, ranked, with the one to ship named."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from edge_kit.documents.base import Record
from edge_kit.documents.profile import Estimate, NoEstimate, OpsProfile, OpsUnavailable
from edge_kit.documents.target import TargetSummary

SCHEMA = "edgekit.bench"
SCHEMA_VERSION = 2
CellStatus = Literal["ok", "outside", "failed"]
LatencyKind = Literal["measured", "estimated"]


class Quality(Record):
    """A variant's top-1 *accuracy* (eval labels: with the source's and the drop in points) or its top-1
    *agreement* with the fp32 source (no labels: never called a drop), with the 95% Wilson interval
    of its sample size. `data` is the eval file, or "validation inputs" (a handful, informative only)."""

    metric: Literal["top1_accuracy", "top1_agreement"]
    accuracy: float | None = None
    agreement: float | None = None
    value: float
    interval95: list[float] = Field(min_length=2, max_length=2)
    samples: int
    data: str
    source: float | None = None
    drop: float | None = None
    output_error: float | None = None


class RowAccuracyV1(Record):
    """Schema version 1's quality (boards written before agreement and accuracy were told apart):
    the manifest's accuracy section, else top-1 agreement on the validation inputs."""

    metric: str | None
    source: float | None
    value: float | None
    drop: float | None


class Attempt(Record):
    """One variant the search tried for a cell: recipe, layers kept in float, quality, latency, verdict."""

    variant: str = Field(description="'default' (the path's default recipe) or the attempt's folder name")
    recipe: str | None
    mixed_precision: bool = Field(description="made by the export's --max-accuracy-drop layer search")
    keep_float: list[str]
    quantizable_layers: int | None
    requantizations: int | None
    status: CellStatus
    reason: str
    note: str
    chosen: bool
    folder: str
    wall_s: float | None
    size_bytes: int | None
    device_p50_ms: float | None
    device_latency_kind: LatencyKind | None
    emulated_p50_ms: float | None
    accuracy: Quality | None = None
    agreement: Quality | None = None


class Search(Record):
    """How the search for a cell outside the budget went (or why it did not run)."""

    ran: bool
    skipped: str | None
    stopped_by: str | None = Field(description="'search time' when --search-time cut it short")
    seconds: float
    search_time: float
    variants: list[str]


class DeviceResult(Record):
    """One cell profiled on one real device."""

    status: Literal["ok", "failed", "skipped"] | None
    reason: str | None
    target: str | None
    address: str | None
    started: float | None
    finished: float | None
    cached: bool
    measured_p50_ms: float | None = None
    latency_kind: str | None = None
    machine: str | None = None
    cpu_parts: list[str] | None = None
    runtime: str | None = None
    peak_memory_kb: int | None = None
    estimate_error_pct: float | None = None


class Row(Record):
    """One cell: its status and, when it got that far, size, accuracy, latency and memory."""

    cell: str
    format: str
    precision: str
    status: CellStatus
    reason: str
    cached: bool
    folder: str
    size_bytes: int | None = None
    recipe: str | None = None
    keep_float: list[str] | None = None
    note: str | None = None
    accuracy: Quality | RowAccuracyV1 | None = None
    agreement: Quality | None = None
    max_abs_diff: float | None = None
    latency_kind: Literal["emulated", "measured"] | None = None
    measured_p50_ms: float | None = Field(default=None, description="the profile's p50 when run natively")
    emulated_p50_ms: float | None = Field(default=None, description="the profile's p50 under emulation")
    estimated_ms: float | None = None
    estimate: Estimate | NoEstimate | None = None
    device_p50_ms: float | None = Field(default=None, description="what the row is ranked on: measured, else estimated")
    device_latency_kind: LatencyKind | None = None
    threads: int | None = None
    peak_memory_kb: int | None = None
    ops: OpsProfile | OpsUnavailable | None = None
    attempts: list[Attempt] | None = None
    search: Search | None = None
    devices: dict[str, DeviceResult] | None = None
    icon: str
    speedup_vs_fp32: float | None
    slower_than_fp32: str | None = Field(default=None, description="why, from the two op profiles")
    speedup_vs_baseline: float | None = None


class Counts(Record):
    ok: int
    outside: int
    failed: int


class DeviceSummary(Record):
    """A device of the inventory and how far the estimate was from its measurements."""

    name: str
    address: str
    target: str | None
    concurrency: int
    groups: list[str]
    python: str
    cells_measured: int
    cells_failed: int
    machine: str | None
    cpu_parts: list[str] | None
    mean_abs_estimate_error_pct: float | None


class EstimateError(Record):
    cell: str
    device: str
    estimated_ms: float | None
    measured_ms: float
    error_pct: float


class BenchSettings(Record):
    formats: list[str]
    precisions: list[str]
    num_runs: int
    num_threads: int | None = None
    calibration: str | None
    eval: str | None
    budget_points: float
    min_agreement: float | None = None
    search_time_s: float | None = None
    devices: str | None


class CriterionSummary(Record):
    """How variants were judged: accuracy drop with labels, agreement with fp32 without."""

    budget_points: float
    min_agreement: float
    metric: Literal["accuracy", "agreement"] | None
    text: str


class SameRun(Record):
    fp32_ms: float
    int8_ms: float
    speedup: float


class Int8VsFp32(Record):
    """Per format: the int8 variant kept against fp32, by the ranking's basis (and in the baseline session)."""

    format: str
    basis: Literal["devices", "measured", "estimated", "emulated"]
    fp32_ms: float | None
    int8_ms: float | None
    int8_recipe: str | None
    int8_keep_float: int
    int8_status: CellStatus
    speedup: float | None
    why_slower: str | None
    same_run: SameRun | None = None


class SubjectTiming(Record):
    p50_ms: float
    p10_ms: float
    p90_ms: float
    mean_ms: float
    cpu_p50_ms: float
    runs: int


class Baseline(SubjectTiming):
    """The source model run the usual way (its own timing, as a subject's), timed in one process
    with every variant kept, interleaved."""

    measured: Literal[True]
    runner: str
    threads: int
    machine: str
    rounds: int
    subjects: dict[str, SubjectTiming]
    speedups: dict[str, float]
    failed: dict[str, str]


class NoBaseline(Record):
    measured: Literal[False]
    reason: str


class Leaderboard(Record):
    """Every cell ranked by device latency among those within the accuracy budget."""

    schema_: Literal["edgekit.bench"] = Field(alias="schema")
    schema_version: int = Field(ge=1, le=SCHEMA_VERSION)
    rows: list[Row]
    ranked_by: Literal["measured", "estimated", "emulated"]
    ranked_on: str | None = Field(default=None, description="what the ranking's latency is, in words")
    criterion: CriterionSummary | None = None
    recommended: str | None
    recommendation: str
    counts: Counts
    int8_vs_fp32: list[Int8VsFp32] | None = None
    baseline: Baseline | NoBaseline | None = None
    warnings: list[str] | None = None
    devices: list[DeviceSummary] | None = None
    estimate_vs_measured: list[EstimateError] | None = None
    model: str
    target: TargetSummary
    jobs: int
    wall_s: float
    settings: BenchSettings
