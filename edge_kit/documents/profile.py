"""The profile report (`edgekit profile --json`, `profile.json`): latency, memory, per-operator
times, instruction counts and the device-latency estimate of one artifact on one target.

Sections the harness fills per runtime (static memory figures, the operator profile) are
unions of the shapes each runtime gives; the emulated/measured label of the latency is part
of the type, so an emulated figure is never read as a device one.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from edge_kit.documents.base import Record
from edge_kit.documents.manifest import TensorSpec
from edge_kit.documents.target import TargetSummary

SCHEMA = "edgekit.profile"
SCHEMA_VERSION = 1


class ProfiledArtifact(Record):
    """The file profiled (sniffed), and what its manifest says when it has one."""

    path: str
    file: str
    format: str
    runtime: str
    size_bytes: int
    sha256: str
    precision: str | None
    manifest: bool
    validation_status: str | None = None
    inputs: list[TensorSpec] | None = None
    source_inputs: list[TensorSpec] | None = None


class QemuBackend(Record):
    name: Literal["qemu"]
    emulated: Literal[True]
    qemu_cpu: str
    emulator: str
    memory_cap_mb: int


class DockerBackend(Record):
    name: Literal["docker"]
    emulated: bool
    platform: str
    builder: str | None
    qemu_cpu: str | None
    where: str


class HostBackend(Record):
    name: Literal["host"]
    emulated: Literal[False]


class SshBackend(Record):
    """A real device over SSH, and what the probe found on it."""

    name: Literal["ssh"]
    emulated: Literal[False]
    device: str
    address: str
    python: str | None = None
    python_path: str | None = None
    machine: str | None = None
    cpu_count: int | None = None
    glibc: str | None = None
    environment: str | None = None
    packages: dict[str, str | None] | None = None
    provisioned: bool | None = None


Backend = Annotated[QemuBackend | DockerBackend | HostBackend | SshBackend, Field(discriminator="name")]


class ProfileSettings(Record):
    num_threads: int
    warmup_runs: int
    num_runs: int
    max_secs: float
    input: str
    count_runs: int
    count_threads: int | None


class RuntimeInfo(Record):
    name: str
    version: str | None
    num_threads: int


class Latency(Record):
    """Wall time per inference: `kind` says whether it was emulated or measured on real hardware."""

    kind: Literal["emulated", "measured"]
    note: str
    load_ms: float
    first_inference_ms: float
    count: int
    mean_ms: float
    std_ms: float
    min_ms: float
    max_ms: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    samples_ms: list[float]
    stopped_by: str | None


class OnnxruntimeMemory(Record):
    enable_cpu_mem_arena: bool
    enable_mem_pattern: bool
    note: str


class LitertMemory(Record):
    tensor_bytes_total: int
    num_tensors: int
    xnnpack_delegate: bool | None
    note: str


class ExecutorchMemory(Record):
    file_bytes: int
    planned_buffers: list[int]
    planned_bytes: int
    method_allocator_bytes: int
    temp_allocator_peak_bytes: int
    input_copy_bytes: int
    backends: list[str]
    num_threads: int


class Memory(Record):
    """Resident memory around the runs (kB), and the runtime's own static figures."""

    rss_start_kb: int | None
    rss_runtime_kb: int
    rss_loaded_kb: int | None
    peak_rss_kb: int
    peak_over_runtime_kb: int
    peak_rss_with_profiling_kb: int | None
    runtime_static: OnnxruntimeMemory | LitertMemory | ExecutorchMemory
    note: str


class OpType(Record):
    op: str
    mean_us: float
    calls_per_run: float
    share: float


class OpNode(Record):
    node: str
    op: str
    mean_us: float
    share: float


class OnnxruntimeArena(Record):
    arena_held_max_bytes: int
    in_use_peak_bytes: int
    parameter_bytes: int


class OpsProfile(Record):
    """Per-operator times from the runtime's own profiler (mean per run)."""

    available: Literal[True]
    runs: int
    total_mean_us: float
    by_op_type: list[OpType]
    by_node: list[OpNode]
    source: str
    note: str | None = None
    memory: OnnxruntimeArena | None = None
    delegate_calls: list[OpType] | None = None


class OpsUnavailable(Record):
    """No per-operator timings from this runtime (the static plan instead, when known)."""

    available: Literal[False]
    op_types: dict[str, int] | None = None
    note: str


class HarnessTensor(Record):
    noun = "tensor"
    name: str
    shape: list[int | None]
    dtype: str
    quantization: list[float] | None = Field(default=None, description="[scale, zero_point] (LiteRT)")
    source: str | None = Field(default=None, description="inputs: npz or random(seed=N)")
    declared_shape: list[int | str | None] | None = Field(
        default=None, description="inputs: the model's own shape when it has dynamic dimensions"
    )


class OutputSummary(HarnessTensor):
    mean: float
    std: float
    min: float
    max: float
    all_finite: bool
    sha256: str | None = Field(default=None, description="the output's exact bytes (backends agree bitwise)")


class Cpu(Record):
    processors: int
    parts: list[str]
    implementers: list[str]
    features: list[str]


class Machine(Record):
    """The machine the runtime saw (under QEMU: the emulated one)."""

    machine: str
    system: str
    release: str
    python: str
    cpu_count: int | None
    affinity_cpus: int | None
    cpu: Cpu


class Instructions(Record):
    """Instructions counted by the QEMU plugin, per instruction class (docs/emulation.md)."""

    regions: int
    inside_total: int
    outside_total: int
    per_inference: dict[str, float] | None = None
    per_inference_total: float | None = None
    threads: int
    per_thread: list[dict[str, float]]
    classes_doc: str


class Harness(Record):
    command: list[str]
    wall_s: float


class Method(Record):
    name: str
    version: str
    params: dict[str, float] | None = None
    fitted_on: list[str] | None = None


class Breakdown(Record):
    compute_ms: float
    memory_ms: float
    dram_bytes: int
    bytes_source: str
    per_class_ms: dict[str, float]


class OperatorRow(Record):
    op: str
    ms: float
    node: str | None = None
    index: int | None = None
    compute_ms: float | None = None
    memory_ms: float | None = None
    macs: int | None = None
    dram_bytes: int | None = None


class PerOperator(Record):
    method: str
    rows: list[OperatorRow]


class Estimate(Record):
    """The device-latency estimate from the instruction counts: an estimate, with its interval."""

    available: Literal[True]
    estimated_device_latency_ms: float
    statistic: str
    low_ms: float
    high_ms: float
    interval_pct: float
    calibrated: bool
    calibration: str
    note: str
    extrapolated: bool
    target: str
    device: str
    core: str
    clock_ghz: float
    clock_source: Literal["--clock-ghz", "target"]
    num_threads: int
    threads_modelled: int
    method: Method
    breakdown: Breakdown
    per_operator: PerOperator
    assumptions: str
    notes: list[str]


class NoEstimate(Record):
    """Why there is no estimate (no counts, no [microarch] table, no clock)."""

    available: Literal[False]
    reason: str
    estimated_device_latency_ms: None
    target: str
    method: Method


class ProfileReport(Record):
    """One artifact profiled on one target."""

    schema_: Literal["edgekit.profile"] = Field(alias="schema")
    schema_version: int = Field(ge=1, le=SCHEMA_VERSION)
    edgekit_version: str
    created_utc: str
    artifact: ProfiledArtifact
    target: TargetSummary
    backend: Backend
    settings: ProfileSettings
    runtime: RuntimeInfo
    latency: Latency
    memory: Memory
    ops: OpsProfile | OpsUnavailable | None
    inputs: list[HarnessTensor]
    outputs: list[OutputSummary]
    machine: Machine
    instructions: Instructions | None
    harness: Harness
    estimate: Estimate | NoEstimate | None
