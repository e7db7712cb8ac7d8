"""The bench leaderboard (`bench.json`, `edgekit bench --json`): one row per format × precision cell,
read back from the cell's own manifest and profile report, ranked, with the one to ship named."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from edge_kit.documents.base import Record
from edge_kit.documents.profile import Estimate, NoEstimate, OpsProfile, OpsUnavailable
from edge_kit.documents.target import TargetSummary

SCHEMA = "edgekit.bench"
SCHEMA_VERSION = 1
CellStatus = Literal["ok", "outside", "failed"]


class RowAccuracy(Record):
    """The cell's metric: the manifest's accuracy section, else top-1 agreement on the validation inputs."""

    metric: str | None
    source: float | None
    value: float | None
    drop: float | None


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
    accuracy: RowAccuracy | None = None
    max_abs_diff: float | None = None
    estimated_ms: float | None = None
    estimate: Estimate | NoEstimate | None = None
    emulated_p50_ms: float | None = Field(default=None, description="the profile's p50, emulated or measured")
    latency_kind: Literal["emulated", "measured"] | None = None
    peak_memory_kb: int | None = None
    ops: OpsProfile | OpsUnavailable | None = None
    devices: dict[str, DeviceResult] | None = None
    icon: str
    speedup_vs_fp32: float | None


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
    calibration: str | None
    eval: str | None
    budget_points: float
    devices: str | None


class Leaderboard(Record):
    """Every cell ranked by device latency among those within the accuracy budget."""

    schema_: Literal["edgekit.bench"] = Field(alias="schema")
    schema_version: int = Field(ge=1, le=SCHEMA_VERSION)
    rows: list[Row]
    ranked_by: Literal["measured", "estimated", "emulated"]
    recommended: str | None
    recommendation: str
    counts: Counts
    devices: list[DeviceSummary] | None = None
    estimate_vs_measured: list[EstimateError] | None = None
    model: str
    target: TargetSummary
    jobs: int
    wall_s: float
    settings: BenchSettings
