"""What "within budget" means for a bench variant, and how its quality is worded.

With labels in the eval set the metric is top-1 *accuracy*, judged by its drop from the
source's accuracy (`--budget`, points). Without labels it is top-1 *agreement* with the fp32
source's own predictions, which is not an accuracy: it is judged against its own threshold
(`--min-agreement`, percent; why the default: docs/quantization.md#agreement-without-labels)
and never called a drop. Both carry the 95% Wilson interval of their sample size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edge_kit.accuracy import wilson95

MIN_AGREEMENT = 90.0  # percent of eval inputs whose top-1 class matches fp32's
BUDGET = 1.0  # accuracy points
OK, OUTSIDE, FAILED = "ok", "outside", "failed"
AGREEMENT, ACCURACY = "agreement", "accuracy"


@dataclass(frozen=True)
class Quality:
    """One variant's measured quality, in the bench's words."""

    metric: str  # AGREEMENT | ACCURACY
    value: float  # percent
    samples: int
    data: str  # the eval file, or "validation inputs"
    source: float | None = None  # the source's accuracy (labels only)
    drop: float | None = None  # points (labels only)
    output_error: float | None = None

    @property
    def interval95(self) -> tuple[float, float]:
        return wilson95(round(self.value * self.samples / 100.0), self.samples)

    def to_dict(self) -> dict[str, Any]:
        low, high = self.interval95
        out: dict[str, Any] = {
            "metric": f"top1_{self.metric}",
            self.metric: round(self.value, 4),
            "value": round(self.value, 4),
            "interval95": [round(low, 2), round(high, 2)],
            "samples": self.samples,
            "data": self.data,
        }
        if self.metric == ACCURACY:
            out.update(source=self.source, drop=self.drop)
        if self.output_error is not None:
            out["output_error"] = self.output_error
        return out

    def text(self) -> str:
        """'agreement 84.25% (95% CI 80.4-87.6, n=400)' / 'accuracy 98.10% (...), drop 0.20 points'."""
        low, high = self.interval95
        line = f"{self.metric} {self.value:.2f}% (95% CI {low:.1f}-{high:.1f}, n={self.samples})"
        return line + (f", drop {self.drop:.2f} points" if self.drop is not None else "")


def quality(manifest: dict[str, Any]) -> Quality | None:
    """The variant's quality from its manifest: the eval metric, else top-1 agreement on the
    validation inputs (informative only: a handful of inputs, often random)."""
    acc = manifest.get("accuracy")
    if acc:
        labelled = acc.get("metric") == "top1_accuracy"
        return Quality(
            metric=ACCURACY if labelled else AGREEMENT,
            value=float(acc["artifact"]),
            samples=int(acc["samples"]),
            data=str(acc.get("data")),
            source=acc.get("source") if labelled else None,
            drop=acc.get("drop") if labelled else None,
            output_error=acc.get("output_error"),
        )
    validation = manifest.get("validation") or {}
    top1, samples = validation.get("top1_agreement"), validation.get("samples")
    if top1 is None or not samples:
        return None
    return Quality(AGREEMENT, 100.0 * float(top1), int(samples), "validation inputs")


@dataclass(frozen=True)
class Criterion:
    """The bench's accuracy budget: `budget` points of accuracy with labels, `min_agreement` % without."""

    budget: float = BUDGET
    min_agreement: float = MIN_AGREEMENT

    def max_drop(self, metric: str) -> float:
        """The `--max-accuracy-drop` that expresses this criterion to an export's budget search
        (whose drop is in points of whichever metric it measures)."""
        return self.budget if metric == ACCURACY else 100.0 - self.min_agreement

    def describe(self, metric: str | None) -> str:
        if metric == ACCURACY:
            return f"within {self.budget:g} point(s) of the source's top-1 accuracy"
        if metric == AGREEMENT:
            return f"with at least {self.min_agreement:g}% top-1 agreement with the fp32 source (no labels)"
        return "within the export's validation tolerance (no --eval data: accuracy not measured)"

    def to_dict(self) -> dict[str, Any]:
        return {"budget_points": self.budget, "min_agreement": self.min_agreement}

    def passes(self, q: Quality) -> bool:
        if q.metric == ACCURACY:
            return (q.drop or 0.0) <= self.budget
        return q.value >= self.min_agreement

    def shortfall(self, q: Quality) -> str:
        if q.metric == ACCURACY:
            return f"accuracy drop {q.drop:.2f} points > budget {self.budget:g}"
        return f"{q.text()} < {self.min_agreement:g}% minimum"

    def note(self, q: Quality) -> str:
        """When the sample is too small to tell which side of the threshold the variant is on."""
        if q.metric != AGREEMENT or q.data == "validation inputs":
            return ""
        low, high = q.interval95
        if low < self.min_agreement <= high:
            return (
                f"n={q.samples}: the 95% interval {low:.1f}-{high:.1f}% spans the {self.min_agreement:g}% minimum; "
                "a larger eval set would tell"
            )
        return ""

    def judge(self, manifest: dict[str, Any]) -> tuple[str, str]:
        """(ok | outside, reason) of one exported variant from its manifest."""
        status = manifest.get("status")
        q = quality(manifest)
        measured = q is not None and q.data != "validation inputs"
        if status == "over_budget" and q is not None:
            budget = (manifest.get("accuracy") or {}).get("budget") or {}
            kept = len(budget.get("keep_float") or [])
            layers = budget.get("quantizable_layers")
            return OUTSIDE, f"{self.shortfall(q)} with {kept} of {layers} layers kept in float"
        if status not in ("ok", "over_budget"):
            reasons = (manifest.get("validation") or {}).get("reasons") or []
            return OUTSIDE, "; ".join(reasons) or str(status)
        if measured and q is not None and not self.passes(q):
            return OUTSIDE, self.shortfall(q)
        return OK, ""
