"""Instruction counts written by the insncount QEMU plugin, read into a frozen dataclass.

The guest marks what to measure with `lseek(MARKER_FD, code, SEEK_SET)`:
`MARKER_BEGIN` / `MARKER_END` bracket one inference (a region; regions are
global time windows, counted across all guest threads) and, inside a region,
`MARKER_OPERATOR_BASE + k` starts operator k's segment, which lasts until the
next marker. The plugin writes JSON at a normal guest exit; a guest killed by a
signal (SIGILL, SIGSEGV, ...) leaves no file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_kit.errors import RuntimeFailure

MARKER_FD = 0x7EDC
MARKER_BEGIN = 1
MARKER_END = 2
MARKER_OPERATOR_BASE = 16
LSEEK_SYSCALL_AARCH64 = 62

CLASS_DOCS: dict[str, str] = {
    "scalar_int": "general-purpose integer ALU, moves, system and everything not below",
    "branch": "B, BL, B.cond, CBZ/CBNZ, TBZ/TBNZ, BR/BLR/RET",
    "load": "general-register loads, atomics, load-exclusives, PRFM",
    "store": "general-register stores, store-exclusives",
    "simd_load": "SIMD&FP register loads: LDR/LDP q/d/s, LD1-LD4, LD1R",
    "simd_store": "SIMD&FP register stores: STR/STP q/d/s, ST1-ST4",
    "fp_scalar": "scalar floating point (FADD s/d, FMADD, FCVT, SCVTF, FCMP, scalar FP in AdvSIMD)",
    "neon_int": "AdvSIMD integer and other vector ops (ADD, MUL, SMULL, shifts, logic, DUP, TBL)",
    "neon_int_mac": "AdvSIMD integer accumulate: MLA/MLS, SMLAL/UMLAL, SQDMLAL, SADALP, SABA(L)",
    "neon_fp": "AdvSIMD floating point, vector (FADD, FMUL, FMAX, FCVT, SCVTF, FCADD)",
    "neon_fmla": "AdvSIMD FP multiply-accumulate: FMLA/FMLS, FMLAL/FMLSL, FCMLA, BFMLAL",
    "dotprod": "SDOT/UDOT/USDOT/SUDOT (vector and by element), BFDOT",
    "mmla": "matrix multiply-accumulate: SMMLA/UMMLA/USMMLA/BFMMLA",
    "sve": "any SVE/SVE2 instruction",
    "sme": "any SME instruction",
}
CLASSES: tuple[str, ...] = tuple(CLASS_DOCS)


@dataclass(frozen=True)
class InsnCounts:
    """Executed guest instructions by class, from one emulated run.

    `inside` sums every marked region (all threads); `per_inference` divides by
    the number of regions. `per_thread_inside[i]` is vCPU i (a guest thread;
    linux-user reuses the index of a thread that has exited).
    """

    classes: tuple[str, ...]
    regions: int
    inside: Mapping[str, int]
    outside: Mapping[str, int]
    per_thread_inside: tuple[Mapping[str, int], ...]
    operators: Mapping[int, Mapping[str, int]]
    operator_markers: Mapping[int, int]
    open_regions: int = 0
    path: str = ""

    @property
    def inside_total(self) -> int:
        return sum(self.inside.values())

    @property
    def outside_total(self) -> int:
        return sum(self.outside.values())

    @property
    def total(self) -> int:
        """Every counted instruction, inside and outside regions."""
        return self.inside_total + self.outside_total

    def _need_regions(self) -> None:
        if self.regions <= 0:
            raise RuntimeFailure(
                f"no measured region in {self.path or 'the counts'}",
                hint=f"the guest never called the begin marker (lseek({MARKER_FD:#x}, {MARKER_BEGIN}, 0))",
            )

    @property
    def per_inference(self) -> dict[str, float]:
        """Mean instructions per region (inference), by class."""
        self._need_regions()
        return {name: self.inside[name] / self.regions for name in self.classes}

    @property
    def per_inference_total(self) -> float:
        self._need_regions()
        return self.inside_total / self.regions

    @property
    def per_thread_per_inference(self) -> tuple[dict[str, float], ...]:
        """Mean instructions per region, by class, for each vCPU (guest thread)."""
        self._need_regions()
        return tuple({n: t[n] / self.regions for n in self.classes} for t in self.per_thread_inside)

    def summary(self) -> dict[str, Any]:
        """A JSON-able digest (per-inference figures when regions were marked)."""
        out: dict[str, Any] = {
            "regions": self.regions,
            "inside_total": self.inside_total,
            "outside_total": self.outside_total,
        }
        if self.regions:
            out["per_inference"] = self.per_inference
            out["per_inference_total"] = self.per_inference_total
        out["threads"] = sum(1 for t in self.per_thread_inside if any(t.values()))
        return out


def _counts(value: Any, classes: tuple[str, ...], what: str) -> dict[str, int]:
    if not isinstance(value, dict):
        raise ValueError(f"'{what}' is not an object")
    missing = [c for c in classes if not isinstance(value.get(c), int) or value[c] < 0]
    if missing:
        raise ValueError(f"'{what}' lacks counts for {', '.join(missing)}")
    return {c: value[c] for c in classes}


def _parse(data: Any, path: Path) -> InsnCounts:
    if not isinstance(data, dict) or data.get("version") != 1:
        raise ValueError("not an insncount version-1 document")
    classes = data.get("classes")
    if not isinstance(classes, list) or not classes or not all(isinstance(c, str) for c in classes):
        raise ValueError("'classes' is missing")
    names = tuple(classes)
    threads = data.get("per_thread_inside")
    segments = data.get("segments")
    if not isinstance(threads, list) or not isinstance(segments, list):
        raise ValueError("'per_thread_inside' or 'segments' is missing")
    regions, markers = data.get("regions"), data.get("markers", {})
    if not isinstance(regions, int) or regions < 0 or not isinstance(markers, dict):
        raise ValueError("'regions' is missing")
    return InsnCounts(
        classes=names,
        regions=regions,
        inside=_counts(data.get("inside"), names, "inside"),
        outside=_counts(data.get("outside"), names, "outside"),
        per_thread_inside=tuple(_counts(t, names, "per_thread_inside") for t in threads),
        operators={int(s["operator"]): _counts(s.get("counts"), names, "segments") for s in segments},
        operator_markers={int(s["operator"]): int(s["markers"]) for s in segments},
        open_regions=int(markers.get("open_at_exit", 0)),
        path=str(path),
    )


def read_counts(path: Path) -> InsnCounts:
    """Read the plugin's JSON; a missing or garbled file raises `RuntimeFailure`."""
    path = Path(path)
    if not path.is_file():
        raise RuntimeFailure(
            f"no instruction counts at {path}",
            hint="the emulated program crashed, was killed or never exited "
            "normally (counts are written only at a normal exit), or the file "
            "could not be written; check its stderr",
        )
    try:
        return _parse(json.loads(path.read_text(encoding="utf-8")), path)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, ValueError, KeyError, TypeError) as exc:
        raise RuntimeFailure(
            f"instruction counts file {path} is unreadable: {exc}",
            hint="the emulated run was probably interrupted; run it again",
        ) from None
