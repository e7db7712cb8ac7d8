"""Accuracy measured, not assumed: the source model and the artifact (in its real runtime)
on the same held-out data.

`--eval data.npz` holds inputs (`x`, or one array per input name) and optionally integer
labels `y`. With labels the metric is top-1 accuracy; without, top-1 agreement with the
float source's own predictions. Both are in percent; the drop is in percentage points.
Each figure carries its sampling uncertainty: the artifact metric's 95% Wilson interval and
the eval set's resolution (points per sample), so a 22-photo agreement reads as what it is.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edge_kit.errors import DataError
from edge_kit.signature import TensorSpec

LABELS = "y"
Run = Callable[[Sequence[np.ndarray]], list[np.ndarray]]


@dataclass(frozen=True)
class EvalSet:
    """Held-out input batches and (when present) one integer label per sample."""

    batches: list[list[np.ndarray]]
    labels: np.ndarray | None
    path: str

    @property
    def samples(self) -> int:
        return sum(int(b[0].shape[0]) for b in self.batches)


@dataclass(frozen=True)
class Accuracy:
    """One artifact's metric next to its source's, and the drop in points."""

    metric: str  # "top1_accuracy" | "top1_agreement"
    source: float  # percent
    artifact: float  # percent
    drop: float  # percentage points (source - artifact)
    samples: int
    data: str
    output_error: float = 0.0  # mean ||artifact - source||² / ||source||² of the first output

    @property
    def resolution(self) -> float:
        """Points one sample moves the metric (and the drop) by."""
        return 100.0 / self.samples

    @property
    def interval95(self) -> tuple[float, float]:
        """95% Wilson score interval of the artifact metric, in percent."""
        return wilson95(round(self.artifact * self.samples / 100.0), self.samples)

    def to_dict(self) -> dict[str, Any]:
        out = {
            k: float(f"{v:.4g}") if k == "output_error" else round(v, 4) if isinstance(v, float) else v
            for k, v in asdict(self).items()
        }
        return {
            **out,
            "artifact_interval95": [round(v, 2) for v in self.interval95],
            "resolution_points": round(self.resolution, 4),
        }


def summary(measured: dict[str, Any], name: str) -> str:
    """One line from an accuracy section: both metrics, the artifact's interval, the drop."""
    low, high = measured["artifact_interval95"]
    return (
        f"{measured['metric']}: source {measured['source']:.2f}%, {name} {measured['artifact']:.2f}% "
        f"(95% interval {low:.1f}-{high:.1f}, n={measured['samples']}), "
        f"drop {measured['drop']:.2f} points"
    )


def wilson95(successes: int, n: int) -> tuple[float, float]:
    """The 95% Wilson score interval of a proportion `successes / n`, in percent."""
    z2 = 1.959964**2
    p = successes / n
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = math.sqrt(z2 * (p * (1 - p) / n + z2 / (4 * n * n))) / (1 + z2 / n)
    return 100.0 * max(0.0, centre - half), 100.0 * min(1.0, centre + half)


def load_eval(path: Path, specs: Sequence[TensorSpec]) -> EvalSet:
    """Inputs and optional labels from a `.npz`; every problem is one DataError."""
    from edge_kit.data import input_batches, read_arrays

    path = Path(path)
    arrays = read_arrays(path)
    labels = arrays.pop(LABELS, None)
    if not arrays:
        raise DataError(f"{path.name} holds labels but no inputs", hint="save the inputs as 'x'")
    batches = input_batches(arrays, specs, path.name)
    if not batches:
        raise DataError(f"{path.name} holds fewer samples than one batch of the model's input")
    evalset = EvalSet(batches, None, str(path))
    if labels is None:
        return evalset
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise DataError(
            f"{path.name}: labels 'y' must be a 1-D integer array, got {labels.dtype} {list(labels.shape)}",
            hint="save class indices, not one-hot vectors",
        )
    if len(labels) < evalset.samples:
        raise DataError(f"{path.name}: {len(labels)} labels for {evalset.samples} inputs")
    return EvalSet(batches, labels[: evalset.samples].astype(np.int64), str(path))


def outputs(run: Run, evalset: EvalSet) -> np.ndarray:
    """The first output (class scores [samples, classes]) for every sample, as float64."""
    outs = []
    for arrays in evalset.batches:
        out = np.asarray(run(arrays)[0], dtype=np.float64)
        if out.ndim != 2 or out.shape[1] < 2:
            raise DataError(
                f"accuracy needs a classifier output [batch, classes]; the model returns {list(out.shape)}",
                hint="omit --eval for models that are not classifiers",
            )
        outs.append(out)
    return np.concatenate(outs)


def artifact_run(runner: Any) -> Run:
    """Run an artifact's Runner on source-layout inputs (NCHW ↔ NHWC reconciled)."""
    from edge_kit.validate import adapt_inputs

    return lambda arrays: runner.run(adapt_inputs(arrays, runner)[0])


def score(preds: np.ndarray, reference: np.ndarray, labels: np.ndarray | None) -> float:
    """Percent of `preds` equal to the labels (or, without labels, to the reference predictions)."""
    target = labels if labels is not None else reference
    return 100.0 * float((preds == target).mean())


def output_error(got: np.ndarray, ref: np.ndarray) -> float:
    """Mean normalised squared error of the class scores: finer than top-1 on small eval sets."""
    err = ((got - ref) ** 2).sum(axis=1) / np.maximum((ref**2).sum(axis=1), 1e-12)
    return float(err.mean())


@dataclass
class Evaluator:
    """Measures artifacts against the source on one eval set (source outputs computed once)."""

    evalset: EvalSet
    source_outputs: np.ndarray

    @classmethod
    def create(cls, evalset: EvalSet, source: Any) -> Evaluator:
        return cls(evalset, outputs(source.run, evalset))

    @property
    def source_preds(self) -> np.ndarray:
        return self.source_outputs.argmax(axis=1)

    @property
    def metric(self) -> str:
        return "top1_accuracy" if self.evalset.labels is not None else "top1_agreement"

    def measure(self, runner: Any) -> Accuracy:
        got_outputs = outputs(artifact_run(runner), self.evalset)
        if got_outputs.shape != self.source_outputs.shape:
            raise DataError(
                f"the artifact's scores have shape {list(got_outputs.shape)}, the source's "
                f"{list(self.source_outputs.shape)}"
            )
        base = score(self.source_preds, self.source_preds, self.evalset.labels)
        got = score(got_outputs.argmax(axis=1), self.source_preds, self.evalset.labels)
        return Accuracy(
            metric=self.metric,
            source=base,
            artifact=got,
            drop=base - got,
            samples=self.evalset.samples,
            data=self.evalset.path,
            output_error=output_error(got_outputs, self.source_outputs),
        )
