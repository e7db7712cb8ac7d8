"""Prove an artifact matches its source: run both on the same inputs and compare.

Three outcomes, like Ultralytics' benchmark: the export failed (no artifact), the
artifact was exported but its outputs are outside tolerance, or ok. Layout
differences (NCHW vs NHWC) between source and artifact are transposed, not ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from edge_kit.errors import DataError
from edge_kit.exporters.base import Runner
from edge_kit.models.base import SourceModel

STATUS_OK = "ok"
STATUS_MISMATCH = "mismatch"
STATUS_FAILED = "failed"


@dataclass(frozen=True)
class Tolerance:
    """Limits an artifact must meet. `atol`/`rtol` bound the max abs difference
    (atol + rtol * max|reference|); None skips that check."""

    atol: float | None
    rtol: float
    min_cosine: float
    min_top1: float


TOLERANCES: dict[str, Tolerance] = {
    "fp32": Tolerance(atol=1e-4, rtol=1e-4, min_cosine=0.99999, min_top1=1.0),
    "fp16": Tolerance(atol=None, rtol=0.0, min_cosine=0.999, min_top1=0.9),
    "int8-dynamic": Tolerance(atol=None, rtol=0.0, min_cosine=0.98, min_top1=0.8),
    "int8": Tolerance(atol=None, rtol=0.0, min_cosine=0.95, min_top1=0.7),
}


@dataclass(frozen=True)
class Comparison:
    status: str
    samples: int
    max_abs_diff: float
    mean_abs_diff: float
    cosine_similarity: float
    top1_agreement: float | None
    tolerance: dict[str, Any]
    reasons: tuple[str, ...] = ()
    layout_transposed: bool = False
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["reasons"] = list(self.reasons)
        out["notes"] = list(self.notes)
        if not self.notes:
            del out["notes"]
        return out


def _permutation(src: Sequence[int], dst: Sequence[int]) -> tuple[int, ...] | None:
    """The axes order turning a `src`-shaped array into `dst` (channels-first <-> last)."""
    if tuple(src) == tuple(dst):
        return None
    rank = len(src)
    candidates = []
    if rank >= 3:
        candidates.append((0, *range(2, rank), 1))  # NCHW -> NHWC
        candidates.append((0, rank - 1, *range(1, rank - 1)))  # NHWC -> NCHW
    for perm in candidates:
        if tuple(src[p] for p in perm) == tuple(dst):
            return perm
    raise DataError(
        f"artifact tensor shape {list(dst)} does not match the source's {list(src)}",
        hint="check --input-shape; only NCHW/NHWC layout differences are reconciled",
    )


def adapt_inputs(arrays: Sequence[np.ndarray], runner: Runner) -> tuple[list[np.ndarray], bool]:
    """Source-layout inputs transposed to the artifact's layout; True when any was moved."""
    out, moved = [], False
    for array, spec in zip(arrays, runner.inputs):
        static = tuple(d for d in spec.shape if d is not None)
        same_size = spec.shape and len(static) == len(spec.shape) and np.prod(static) == array.size
        perm = _permutation(array.shape, static) if same_size else None  # else: a dynamic size, not a layout
        out.append(np.transpose(array, perm) if perm else array)
        moved |= perm is not None
    return out, moved


def _align(ref: np.ndarray, got: np.ndarray) -> tuple[np.ndarray, bool]:
    got = np.asarray(got, dtype=np.float64)
    if got.shape == ref.shape:
        return got, False
    if got.size == ref.size and got.ndim == ref.ndim:
        perm = _permutation(ref.shape, got.shape)
        inverse = np.argsort(perm) if perm else None
        return (np.transpose(got, inverse) if inverse is not None else got), True
    raise DataError(f"artifact output shape {list(got.shape)} differs from the source's {list(ref.shape)}")


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0.0 and nb == 0.0:
        return 1.0
    return float(np.dot(a, b) / (na * nb)) if na and nb else 0.0


def is_classifier(output: np.ndarray) -> bool:
    return output.ndim == 2 and output.shape[1] >= 2


TIE_FRACTION = 0.01  # a reference margin this small (share of the row's logit range) is a near tie


def top1_matches(ref: np.ndarray, got: np.ndarray) -> tuple[int, int]:
    """(rows whose argmax agrees, rows that disagree at a near tie): the artifact's class is within
    TIE_FRACTION of the row's logit range below the reference's top class, in the reference's own
    scores (random-weight models have near-flat logits, where top-1 is noise)."""
    a, b = ref.argmax(1), got.argmax(1)
    rows = np.arange(ref.shape[0])
    margin = ref[rows, a] - ref[rows, b]
    span = ref.max(1) - ref.min(1)
    tie = (a != b) & (margin <= TIE_FRACTION * span)
    return int((a == b).sum()), int(tie.sum())


def _by_name(source: SourceModel, runner: Runner, gots: list[np.ndarray]) -> list[np.ndarray]:
    """The artifact's outputs in the source's order when both name the same outputs (a SavedModel's
    signature keys, which the TFLite converter may emit in another order); else as returned."""
    ours, theirs = getattr(source, "output_names", None), getattr(runner, "output_names", None)
    if not ours or not theirs or ours == theirs or sorted(ours) != sorted(theirs) or len(theirs) != len(gots):
        return gots
    return [gots[theirs.index(name)] for name in ours]


def compare(
    source: SourceModel, runner: Runner, batches: Sequence[Sequence[np.ndarray]], tolerance: Tolerance
) -> Comparison:
    """Run `source` and `runner` on every batch and judge the artifact against `tolerance`."""
    abs_max, abs_sum, count, cosines, agree, top1_n, moved = 0.0, 0.0, 0, [], 0, 0, False
    ref_scale, faint, judged, ties = 0.0, 0, [], 0  # faint: samples whose every reference value is within atol
    for arrays in batches:
        refs = [np.asarray(r, dtype=np.float64) for r in source.run(arrays)]
        feed, moved_in = adapt_inputs(arrays, runner)
        gots = _by_name(source, runner, runner.run(feed))
        if len(gots) != len(refs):
            raise DataError(f"the artifact returns {len(gots)} outputs, the source {len(refs)}")
        flat_ref, flat_got, batch_scale = [], [], 0.0
        for ref, got in zip(refs, gots):
            got, moved_out = _align(ref, got)
            moved |= moved_in or moved_out
            diff = np.abs(ref - got)
            abs_max, abs_sum, count = (
                max(abs_max, float(diff.max(initial=0.0))),
                abs_sum + float(diff.sum()),
                count + diff.size,
            )
            batch_scale = max(batch_scale, float(np.abs(ref).max(initial=0.0)))
            flat_ref.append(ref.ravel())
            flat_got.append(got.ravel())
            if is_classifier(ref):
                same, tie = top1_matches(ref, got)
                agree, ties, top1_n = agree + same + tie, ties + tie, top1_n + ref.shape[0]
        ref_scale = max(ref_scale, batch_scale)
        cosines.append(_cosine(np.concatenate(flat_ref), np.concatenate(flat_got)))
        if tolerance.atol is not None and batch_scale <= tolerance.atol:
            faint += 1  # float noise in direction: judged on its difference alone
        else:
            judged.append(cosines[-1])
    top1 = agree / top1_n if top1_n else None
    reasons = _judge(abs_max, ref_scale, min(judged, default=1.0), top1, tolerance)
    notes = [_faint_note(faint, len(batches), tolerance)] if faint else []
    if ties:
        notes.append(
            f"{ties} top-1 disagreement(s) at a near tie (the reference's margin to the artifact's class "
            f"≤ {TIE_FRACTION:.0%} of its logit range): counted as agreement"
        )
    return Comparison(
        status=STATUS_MISMATCH if reasons else STATUS_OK,
        samples=len(batches),
        max_abs_diff=abs_max,
        mean_abs_diff=abs_sum / max(count, 1),
        cosine_similarity=min(cosines),
        top1_agreement=top1,
        tolerance=asdict(tolerance),
        reasons=tuple(reasons),
        layout_transposed=moved,
        notes=tuple(notes),
    )


def _faint_note(faint: int, samples: int, tol: Tolerance) -> str:
    which = "every sample" if faint == samples else f"{faint} of {samples} samples"
    return (
        f"{which}: every reference value within the absolute tolerance {tol.atol:g} (a probability map "
        "on random input, vanishing logits): judged on the max abs difference, not on cosine"
        + (" or top-1" if faint == samples else "")
    )


def _judge(abs_max: float, ref_scale: float, cosine: float, top1: float | None, tol: Tolerance) -> list[str]:
    """Reasons the artifact is outside `tol` (none: ok). When every reference value is within the
    absolute tolerance, top-1 (like cosine, per sample) is float noise and not judged."""
    if not np.isfinite(abs_max):
        return ["the artifact produced NaN or inf"]
    reasons = []
    if tol.atol is not None and abs_max > tol.atol + tol.rtol * ref_scale:
        reasons.append(f"max abs difference {abs_max:.3g} > {tol.atol + tol.rtol * ref_scale:.3g}")
    if cosine < tol.min_cosine:
        reasons.append(f"cosine similarity {cosine:.6f} < {tol.min_cosine}")
    faint = tol.atol is not None and ref_scale <= tol.atol
    if top1 is not None and top1 < tol.min_top1 and not faint:
        reasons.append(f"top-1 agreement {top1:.1%} < {tol.min_top1:.0%}")
    return reasons
