"""A deployment target (`targets/*.toml`): the device edgekit exports for, profiles on and estimates for.

The model is the type the rest of edgekit reads (`edge_kit.targets.Target`), and its
rules (formats, the [microarch] table of the latency estimate, cpuinfo clusters adding up
to the core count) live here, once.
"""

from __future__ import annotations

import os
import platform
from typing import Any, Literal

from pydantic import Field, PrivateAttr, field_validator, model_validator

from edge_kit.documents.base import Document, Record, Rule, Tup

PRECISIONS = ("fp32", "fp16", "int8-dynamic", "int8")
ISA_FEATURES = ("neon", "fp16", "dotprod", "i8mm", "sve")
# Instruction classes the counting plugin reports and [microarch.cycles_per_insn] prices (docs/estimate.md).
INSN_CLASSES = (
    "scalar_int",
    "branch",
    "load",
    "store",
    "simd_load",
    "simd_store",
    "fp_scalar",
    "neon_int",
    "neon_int_mac",
    "neon_fp",
    "neon_fmla",
    "dotprod",
    "mmla",
    "sve",
    "sme",
)
Precision = Literal["fp32", "fp16", "int8-dynamic", "int8"]
IsaFeature = Literal["neon", "fp16", "dotprod", "i8mm", "sve"]
InsnClass = Literal[
    "scalar_int",
    "branch",
    "load",
    "store",
    "simd_load",
    "simd_store",
    "fp_scalar",
    "neon_int",
    "neon_int_mac",
    "neon_fp",
    "neon_fmla",
    "dotprod",
    "mmla",
    "sve",
    "sme",
]


def known_formats() -> tuple[str, ...]:
    """The artifact formats a target may prefer (read when validating: the format registry owns them)."""
    from edge_kit.registry import formats

    return tuple(formats())


def _formats_enum(schema: dict[str, Any]) -> None:
    schema["items"]["enum"] = list(known_formats())


class CpuCluster(Document):
    """One group of identical cores as `/proc/cpuinfo` describes them."""

    noun = "cluster"
    implementer: str
    part: str
    variant: str
    revision: str
    count: int = Field(ge=1)
    features: str


class Microarch(Document):
    """What the latency estimate (edge_kit.estimate) needs to know about the core; see docs/estimate.md."""

    core: str
    device_name: str
    compute_cores: int = Field(ge=1)
    l2_kb: int = Field(ge=0)
    shared_cache_kb: int = Field(ge=0)
    dram_gbps: float = Field(gt=0)
    cycles_per_insn: dict[InsnClass, float]
    source: str = ""
    memory_source: str = ""
    params_from: str = Field(default="", description="a calibrated core this board borrows its parameters from")
    assumptions: str = Field(default="", description="what a board without published rows is derived from")

    @field_validator("cycles_per_insn")
    @classmethod
    def _positive(cls, value: dict[str, float]) -> dict[str, float]:
        bad = [k for k, v in value.items() if not v > 0]
        if bad:
            raise Rule(f"must be positive for {', '.join(bad)}", hint="1 / the sustained issue rate of each class")
        return value


class Target(Document):
    """A device edgekit exports for, profiles on and estimates latency for."""

    name: str
    description: str
    arch: str = Field(description='"native" or a machine name such as "aarch64"')
    docker_platform: str
    qemu_cpu: str = Field(description='QEMU -cpu model ("" when not emulated)')
    cores: int = Field(ge=0, description="0: detect at run time")
    clock_ghz: float = Field(ge=0, description="0: unknown")
    memory_mb: int = Field(ge=0, description="0: detect at run time")
    os: str
    preferred_formats: Tup[str] = Field(min_length=1, json_schema_extra=_formats_enum)
    default_precision: Precision
    isa: dict[IsaFeature, bool]
    aliases: Tup[str] = ()
    clock_options_ghz: Tup[float] = ()
    cpuinfo: Tup[CpuCluster] = ()
    microarch: Microarch | None = None
    _source: str = PrivateAttr(default="")

    def model_post_init(self, context: Any) -> None:
        self._source = (context or {}).get("source", "")

    @field_validator("preferred_formats")
    @classmethod
    def _formats(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        formats = known_formats()
        if not value or any(f not in formats for f in value):
            raise Rule(f"must be a non-empty list of {', '.join(formats)}")
        return value

    @field_validator("isa")
    @classmethod
    def _every_feature(cls, value: dict[str, bool]) -> dict[str, bool]:
        return {name: bool(value.get(name, False)) for name in ISA_FEATURES}

    @model_validator(mode="after")
    def _clusters_cover_the_cores(self) -> Target:
        counted = sum(c.count for c in self.cpuinfo)
        if self.cpuinfo and self.cores and counted != self.cores:
            raise Rule(f"the cpuinfo clusters count {counted} cores but cores = {self.cores}")
        if self.microarch and self.cores and self.microarch.compute_cores > self.cores:
            raise Rule(f"microarch.compute_cores ({self.microarch.compute_cores}) exceeds cores ({self.cores})")
        return self

    @property
    def source(self) -> str:
        """The file the target was read from."""
        return self._source

    @property
    def emulated(self) -> bool:
        """True when the target is another architecture, run under QEMU."""
        return self.arch != "native" and self.arch != platform.machine()

    @property
    def default_format(self) -> str:
        return self.preferred_formats[0]

    def features(self) -> list[str]:
        return [name for name in ISA_FEATURES if self.isa.get(name)]  # type: ignore[call-overload]

    def resolved_cores(self) -> int:
        return self.cores or os.cpu_count() or 1

    def summary(self) -> dict[str, Any]:
        """A JSON-able description (used in manifests and `edgekit targets --json`)."""
        return TargetSummary(
            name=self.name,
            aliases=list(self.aliases),
            description=self.description,
            arch=platform.machine() if self.arch == "native" else self.arch,
            docker_platform=self.docker_platform,
            qemu_cpu=self.qemu_cpu or None,
            cores=self.resolved_cores(),
            clock_ghz=self.clock_ghz or None,
            memory_mb=self.memory_mb or None,
            isa=self.features(),
            preferred_formats=list(self.preferred_formats),
            default_precision=self.default_precision,
        ).model_dump()


class TargetSummary(Record):
    """A target as manifests, profile reports, leaderboards and `edgekit targets --json` record it."""

    name: str
    aliases: list[str]
    description: str
    arch: str
    docker_platform: str
    qemu_cpu: str | None
    cores: int
    clock_ghz: float | None
    memory_mb: int | None
    isa: list[str]
    preferred_formats: list[str]
    default_precision: str
