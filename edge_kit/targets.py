"""Deployment targets as data: `targets/*.toml` validated into frozen dataclasses.

The TOML files ship inside the wheel (package `edge_kit.targets_data`); users can
add their own in `$EDGEKIT_TARGETS_PATH` (os.pathsep-separated folders) or
`~/.config/edgekit/targets/`. A user file with the same name overrides a shipped one.
"""

from __future__ import annotations

import difflib
import os
import platform
import tomllib
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import Any

from edge_kit.errors import UsageError
from edge_kit.fsutil import shipped_data
from edge_kit.typecheck import NUMBER, ListOf, Spec, read_text, wrong_type

PRECISIONS = ("fp32", "fp16", "int8-dynamic", "int8")
ISA_FEATURES = ("neon", "fp16", "dotprod", "i8mm", "sve")
# [microarch]: what the latency estimate (edge_kit.estimate) needs; see docs/estimate.md.
MICROARCH_NUMBERS = {"compute_cores": int, "l2_kb": int, "shared_cache_kb": int, "dram_gbps": float}
MICROARCH_TEXT = ("core", "device_name", "source", "memory_source", "params_from", "assumptions")
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


@dataclass(frozen=True)
class CpuCluster:
    """One group of identical cores as `/proc/cpuinfo` describes them."""

    implementer: str
    part: str
    variant: str
    revision: str
    count: int
    features: str


@dataclass(frozen=True)
class Target:
    """A device edgekit exports for, profiles on and estimates latency for."""

    name: str
    description: str
    arch: str
    docker_platform: str
    qemu_cpu: str
    cores: int
    clock_ghz: float
    memory_mb: int
    os: str
    preferred_formats: tuple[str, ...]
    default_precision: str
    isa: dict[str, bool]
    aliases: tuple[str, ...] = ()
    clock_options_ghz: tuple[float, ...] = ()
    cpuinfo: tuple[CpuCluster, ...] = ()
    microarch: dict[str, Any] = field(default_factory=dict)
    source: str = ""

    @property
    def emulated(self) -> bool:
        """True when the target is another architecture, run under QEMU."""
        return self.arch != "native" and self.arch != platform.machine()

    @property
    def default_format(self) -> str:
        return self.preferred_formats[0]

    def features(self) -> list[str]:
        return [name for name in ISA_FEATURES if self.isa.get(name)]

    def resolved_cores(self) -> int:
        return self.cores or os.cpu_count() or 1

    def summary(self) -> dict[str, Any]:
        """A JSON-able description (used in manifests and `edgekit targets --json`)."""
        return {
            "name": self.name,
            "aliases": list(self.aliases),
            "description": self.description,
            "arch": platform.machine() if self.arch == "native" else self.arch,
            "docker_platform": self.docker_platform,
            "qemu_cpu": self.qemu_cpu or None,
            "cores": self.resolved_cores(),
            "clock_ghz": self.clock_ghz or None,
            "memory_mb": self.memory_mb or None,
            "isa": self.features(),
            "preferred_formats": list(self.preferred_formats),
            "default_precision": self.default_precision,
        }


_REQUIRED = (
    "name",
    "description",
    "arch",
    "docker_platform",
    "qemu_cpu",
    "cores",
    "clock_ghz",
    "memory_mb",
    "os",
    "preferred_formats",
    "default_precision",
    "isa",
)


_S, _NUM = (str,), NUMBER
_TYPES: dict[str, Spec] = {
    "name": _S,
    "description": _S,
    "arch": _S,
    "docker_platform": _S,
    "qemu_cpu": _S,
    "cores": (int,),
    "clock_ghz": _NUM,
    "memory_mb": (int,),
    "os": _S,
    "preferred_formats": ListOf(_S),
    "default_precision": _S,
    "isa": (dict,),
    "aliases": ListOf(_S),
    "clock_options_ghz": ListOf(_NUM),
    "cpuinfo": ListOf((dict,)),
    "microarch": (dict,),
    "source": _S,
}
_CLUSTER: dict[str, Spec] = {
    "implementer": _S,
    "part": _S,
    "variant": _S,
    "revision": _S,
    "count": (int,),
    "features": _S,
}


def _type_problem(data: dict[str, Any]) -> str | None:
    problem = wrong_type(data, _TYPES)
    for i, cluster in enumerate(data.get("cpuinfo", ()) if problem is None else ()):
        problem = (
            problem
            or wrong_type(cluster, _CLUSTER, f"cpuinfo[{i}].")
            or (None if set(cluster) == set(_CLUSTER) else f"cpuinfo[{i}] needs exactly {', '.join(_CLUSTER)}")
        )
    return problem


def _parse(data: dict[str, Any], source: str) -> Target:
    """Validate one target table; every problem names the file and the field."""
    known = {f.name for f in fields(Target)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise UsageError(
            f"target file {source}: unknown field(s) {', '.join(unknown)}",
            hint=f"known fields: {', '.join(sorted(known - {'source'}))}",
        )
    missing = [key for key in _REQUIRED if key not in data]
    if missing:
        raise UsageError(f"target file {source}: missing field(s) {', '.join(missing)}")
    problem = _type_problem(data)
    if problem:
        raise UsageError(f"target file {source}: {problem}")
    from edge_kit.registry import formats

    known = list(formats())
    bad_formats = [f for f in data["preferred_formats"] if f not in known]
    if bad_formats or not data["preferred_formats"]:
        raise UsageError(f"target file {source}: preferred_formats must be a non-empty list of {', '.join(known)}")
    if data["default_precision"] not in PRECISIONS:
        raise UsageError(f"target file {source}: default_precision must be one of {', '.join(PRECISIONS)}")
    isa = {name: bool(data["isa"].get(name, False)) for name in ISA_FEATURES}
    if not isinstance(data["cores"], int) or data["cores"] < 0:
        raise UsageError(f"target file {source}: cores must be a non-negative integer")
    if data.get("microarch"):
        _check_microarch(data["microarch"], source)
    clusters = tuple(
        CpuCluster(**{k: (str(v) if k != "count" else int(v)) for k, v in c.items()}) for c in data.get("cpuinfo", ())
    )
    return Target(
        name=data["name"],
        description=data["description"],
        arch=data["arch"],
        docker_platform=data["docker_platform"],
        qemu_cpu=data["qemu_cpu"],
        cores=data["cores"],
        clock_ghz=float(data["clock_ghz"]),
        memory_mb=int(data["memory_mb"]),
        os=data["os"],
        preferred_formats=tuple(data["preferred_formats"]),
        default_precision=data["default_precision"],
        isa=isa,
        aliases=tuple(data.get("aliases", ())),
        clock_options_ghz=tuple(float(c) for c in data.get("clock_options_ghz", ())),
        cpuinfo=clusters,
        microarch=dict(data.get("microarch", {})),
        source=source,
    )


def _check_microarch(table: Any, source: str) -> None:
    """Validate a [microarch] table: every problem names the file and the field."""
    where = f"target file {source}: microarch"
    if not isinstance(table, dict):
        raise UsageError(f"{where} must be a table")
    known = set(MICROARCH_NUMBERS) | set(MICROARCH_TEXT) | {"cycles_per_insn"}
    unknown = sorted(set(table) - known)
    missing = sorted(k for k in (*MICROARCH_NUMBERS, "core", "device_name", "cycles_per_insn") if k not in table)
    if unknown or missing:
        raise UsageError(
            f"{where}: {'unknown' if unknown else 'missing'} field(s) {', '.join(unknown or missing)}",
            hint=f"known fields: {', '.join(sorted(known))}",
        )
    for key, kind in MICROARCH_NUMBERS.items():
        value = table[key]
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or value < 0
            or (kind is int and value != int(value))
        ):
            raise UsageError(f"{where}.{key} must be a non-negative {kind.__name__}")
    if table["compute_cores"] < 1 or table["dram_gbps"] <= 0:
        raise UsageError(f"{where}: compute_cores must be >= 1 and dram_gbps > 0")
    if not all(isinstance(table.get(k, ""), str) for k in MICROARCH_TEXT):
        raise UsageError(f"{where}: {', '.join(MICROARCH_TEXT)} must be strings")
    cpi = table["cycles_per_insn"]
    bad = (
        [
            k
            for k, v in cpi.items()
            if k not in INSN_CLASSES or isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0
        ]
        if isinstance(cpi, dict)
        else ["(not a table)"]
    )
    if bad:
        raise UsageError(
            f"{where}.cycles_per_insn: bad entries {', '.join(bad)}",
            hint=f"positive numbers for instruction classes {', '.join(INSN_CLASSES)}",
        )


def _user_dirs() -> list[Path]:
    env = os.environ.get("EDGEKIT_TARGETS_PATH")
    dirs = [Path(p) for p in env.split(os.pathsep) if p] if env else []
    return dirs + [Path.home() / ".config" / "edgekit" / "targets"]


@lru_cache(maxsize=8)
def _load_all(user_dirs: tuple[Path, ...]) -> dict[str, Target]:
    found: dict[str, Target] = {}
    shipped = shipped_data("edge_kit.targets_data", "targets")
    sources = [
        (entry.name, entry.read_text(encoding="utf-8"))
        for entry in sorted(shipped.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".toml")
    ]
    for folder in user_dirs:
        if folder.is_dir():
            sources += [(str(p), read_text(p, "target file")) for p in sorted(folder.glob("*.toml")) if p.is_file()]
    for source, text in sources:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise UsageError(f"target file {source} is not valid TOML: {exc}") from None
        target = _parse(data, source)
        found[target.name] = target
    return found


def all_targets() -> dict[str, Target]:
    """Every known target by canonical name (shipped, then user overrides)."""
    return _load_all(tuple(_user_dirs()))


def get_target(name: str) -> Target:
    """Look a target up by name or alias; an unknown name lists the known ones."""
    targets = all_targets()
    lookup = {t.name: t for t in targets.values()}
    lookup.update({alias: t for t in targets.values() for alias in t.aliases})
    key = name.strip().lower()
    if key in lookup:
        return lookup[key]
    close = difflib.get_close_matches(key, list(lookup), n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    raise UsageError(f"unknown target '{name}'", hint=f"{hint}known targets: {', '.join(sorted(targets))}")
