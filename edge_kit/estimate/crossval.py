"""The fit of the five parameters, leave-one-model-out cross-validation, and the intervals it gives.

Parameters: for each calibrated core, k_fp32 and k_int8 (the share of the documented serial
issue cost its fp32 / int8 kernels pay), and beta (the fraction of a board's peak DRAM bandwidth
that spilled bytes reach; one value for every board). Objective: the squared relative error of
every published row, plus weak priors that keep a parameter its rows do not constrain where the
documentation puts it: PRIOR_WEIGHT * ln(value / prior) per parameter, i.e. a parameter a factor e
away from its prior costs as much as a row that is 10% off. They matter only when a held-out
model leaves a parameter without rows (holding out MobileNetV2 removes the Pi 4's only int8 row).
"""

from __future__ import annotations

import math
import statistics
from typing import Any

import numpy as np

from edge_kit.estimate.fitting import fit as least_squares
from edge_kit.estimate.model import CoreParams, Params, predict_workload
from edge_kit.estimate.rows import Sample

PRIORS = {"k": 1.0, "beta": 0.35}  # documented issue rates; a typical sustained share of peak DRAM bandwidth
PRIOR_WEIGHT = 0.1
MIN_INTERVAL_PCT = 10
_SENSITIVITY = 1e-3  # |d ln(latency) / d ln(parameter)| below this: the row does not inform the parameter


def names_for(data: list[Sample]) -> list[str]:
    """Parameter names in vector order: <core>.k_fp32, <core>.k_int8 for each core with rows, then beta."""
    return [f"{core}.{k}" for core in sorted({s.core for s in data}) for k in ("k_fp32", "k_int8")] + ["beta"]


def to_params(names: list[str], x: np.ndarray) -> Params:
    values = dict(zip(names, (float(v) for v in x), strict=True))
    cores = {n.split(".")[0] for n in names if "." in n}
    return Params({c: CoreParams(values[f"{c}.k_fp32"], values[f"{c}.k_int8"]) for c in cores}, values["beta"])


def _prior(name: str) -> float:
    return PRIORS["beta"] if name == "beta" else PRIORS["k"]


def predict_ms(s: Sample, params: Params) -> float:
    return predict_workload(s.work, params.cores[s.core], params.beta).latency_ms


def _residuals(data: list[Sample], names: list[str], x: np.ndarray) -> np.ndarray:
    params = to_params(names, x)
    rows = [predict_ms(s, params) / s.row.latency_ms - 1.0 for s in data]
    priors = [PRIOR_WEIGHT * math.log(float(v) / _prior(n)) for n, v in zip(names, x, strict=True)]
    return np.array(rows + priors)


def fit(data: list[Sample], names: list[str] | None = None) -> tuple[Params, list[str], np.ndarray]:
    """(parameters, their names, the vector) minimising the objective over `data`."""
    names = names or names_for(data)
    start = np.array([_prior(n) for n in names])
    x = least_squares(lambda v: _residuals(data, names, v), start)
    return to_params(names, x), names, x


def leave_one_model_out(data: list[Sample]) -> dict[str, tuple[list[float], Params]]:
    """For each model: its rows' out-of-sample predictions (every precision held out together) and the
    parameters fitted without it. The parameter names stay those of the full fit (a core whose rows all
    belong to the held-out model keeps its priors)."""
    names = names_for(data)
    out = {}
    for model in sorted({s.row.model for s in data}):
        params, _, _ = fit([s for s in data if s.row.model != model], names)
        out[model] = ([predict_ms(s, params) for s in data if s.row.model == model], params)
    return out


def params_dict(params: Params) -> dict[str, Any]:
    return {
        "cores": {c: {"k_fp32": p.k_fp32, "k_int8": p.k_int8} for c, p in sorted(params.cores.items())},
        "beta": params.beta,
        "parallel_fraction": params.parallel_fraction,
    }


def _label(s: Sample) -> str:
    return f"{s.row.target} {s.row.model} {s.row.precision}"


def row_table(
    data: list[Sample], params: Params, cv: dict[str, tuple[list[float], Params]] | None
) -> list[dict[str, Any]]:
    """Each row: published, in-fit estimate and error, out-of-sample (held-out model) estimate and error."""
    held = {}
    if cv is not None:
        for model, (preds, _) in cv.items():
            for s, p in zip([s for s in data if s.row.model == model], preds, strict=True):
                held[id(s)] = p
    table = []
    for s in data:
        pred = predict_workload(s.work, params.cores[s.core], params.beta)
        out = held.get(id(s))
        table.append(
            {
                **s.row.__dict__,
                "edgekit_target": s.row.key[0],
                "core": s.core,
                "estimate_ms": round(pred.latency_ms, 3),
                "error_pct": round(100 * (pred.latency_ms / s.row.latency_ms - 1), 2),
                "cv_estimate_ms": None if out is None else round(out, 3),
                "cv_error_pct": None if out is None else round(100 * (out / s.row.latency_ms - 1), 2),
                "compute_bound_ms": round(pred.compute_ms, 3),
                "memory_bound_ms": round(pred.memory_ms, 3),
                "k": round(pred.k, 4),
            }
        )
    return table


def fitted_on(data: list[Sample], params: Params, names: list[str], x: np.ndarray) -> dict[str, Any]:
    """Each parameter: its value and the published rows whose estimate depends on it (with the
    elasticity d ln(estimate) / d ln(parameter), i.e. how strongly the row pins it)."""
    out: dict[str, Any] = {}
    for j, name in enumerate(names):
        rows = {}
        for s in data:
            base = predict_ms(s, params)
            bumped = x.copy()
            bumped[j] *= 1.001
            e = math.log(predict_ms(s, to_params(names, bumped)) / base) / math.log(1.001)
            if abs(e) > _SENSITIVITY:
                rows[_label(s)] = round(e, 3)
        out[name] = {"value": float(x[j]), "rows": list(rows), "elasticity": rows, "prior": _prior(name)}
    return out


def priors_doc() -> dict[str, Any]:
    return {"values": PRIORS, "weight": PRIOR_WEIGHT, "form": "weight * ln(value / prior) added to the residuals"}


def cv_summary(table: list[dict[str, Any]]) -> dict[str, Any]:
    errs = [abs(r["cv_error_pct"]) for r in table if r["cv_error_pct"] is not None]
    if not errs:
        return {"rows": 0, "median_abs_pct": None, "max_abs_pct": None, "within_15_pct": 0}
    return {
        "scheme": "leave-one-model-out",
        "rows": len(errs),
        "median_abs_pct": round(statistics.median(errs), 2),
        "max_abs_pct": round(max(errs), 2),
        "rms_pct": round(math.sqrt(sum(e * e for e in errs) / len(errs)), 2),
        "within_15_pct": sum(e <= 15 for e in errs),
    }


def _round5(pct: float) -> int:
    return int(5 * math.ceil(pct / 5.0 - 1e-9))


def intervals(table: list[dict[str, Any]], validation: list[dict[str, Any]]) -> dict[str, Any]:
    """The ± stated with each estimate on a calibrated board: the largest out-of-sample error seen on it
    (leave-one-model-out on the published rows, and the never-fitted extra rows), rounded up to 5%,
    at least MIN_INTERVAL_PCT. Per board, with the errors it comes from."""
    errors: dict[str, list[float]] = {}
    for r in table:
        if r["cv_error_pct"] is not None:
            errors.setdefault(r["edgekit_target"], []).append(abs(r["cv_error_pct"]))
    for r in validation:
        if r["edgekit_target"] in errors:
            errors[r["edgekit_target"]].append(abs(r["error_pct"]))
    return {
        "calibrated": {t: max(MIN_INTERVAL_PCT, _round5(max(e))) for t, e in sorted(errors.items())},
        "worst_abs_error_pct": {t: round(max(e), 2) for t, e in sorted(errors.items())},
        "source": "largest |out-of-sample error| per board: leave-one-model-out on the published rows and "
        "the never-fitted extra rows; rounded up to 5%",
    }
