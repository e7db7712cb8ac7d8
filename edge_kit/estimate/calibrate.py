"""Fit the estimate's two free parameters on published device latencies; report leave-one-out errors.

    python -m edge_kit.estimate.calibrate [--published CSV] [--records JSON] [--write]

Inputs: the published rows (`data/published_latencies.csv`, a verbatim copy of the project's
reference file: real devices, with sources; nothing else is ever fitted) and, for each row,
what edgekit measured for that model on that target (`data/calibration_records.json`:
instruction counts per class and the per-operator byte analysis, written by
`benchmarks/bench_estimate.py`). The fit is closed-form least squares on relative error, so
the same inputs always give the same parameters. `--write` stores them in `data/params.json`.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from edge_kit.errors import DataError, EdgeKitError
from edge_kit.estimate.model import METHOD, METHOD_VERSION, PARALLEL_FRACTION, Core, design_row
from edge_kit.estimate.opcost import ModelCost
from edge_kit.targets import get_target

DATA = Path(__file__).resolve().parent / "data"
PUBLISHED = DATA / "published_latencies.csv"
RECORDS = DATA / "calibration_records.json"
PARAMS = DATA / "params.json"
EXTRA = DATA / "extra_latencies.csv"
RECORDS_SCHEMA = "edgekit.estimate.records/1"
COLUMNS = ("target", "model", "runtime", "precision", "threads", "latency_ms", "clock_ghz", "source")
MIN_INTERVAL_PCT = 10


@dataclass(frozen=True)
class Row:
    """One published measurement."""

    target: str
    model: str
    runtime: str
    precision: str
    threads: int
    latency_ms: float
    clock_ghz: float
    source: str
    note: str = ""

    @property
    def key(self) -> tuple[str, str, str, int]:
        return (get_target(self.target).name, self.model, self.precision, self.threads)


@dataclass(frozen=True)
class Sample:
    """A published row with what edgekit measured for it: latency = k * a + b / beta."""

    row: Row
    a: float  # compute ms at k = 1
    b: float  # memory ms at beta = 1


def read_rows(path: Path) -> list[Row]:
    """The published rows of a CSV with the reference file's columns."""
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise DataError(f"{path}: missing column(s) {', '.join(missing)}")
            return [
                Row(
                    target=r["target"],
                    model=r["model"],
                    runtime=r["runtime"],
                    precision=r["precision"],
                    threads=int(r["threads"]),
                    latency_ms=float(r["latency_ms"]),
                    clock_ghz=float(r["clock_ghz"]),
                    source=r["source"],
                    note=r.get("note") or "",
                )
                for r in reader
            ]
    except OSError as exc:
        raise DataError(f"cannot read published latencies {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise DataError(f"{path}: a threads, latency_ms or clock_ghz value is not a number ({exc})") from None


def read_records(path: Path) -> dict[tuple[str, str, str, int], dict[str, Any]]:
    """Measured records by (edgekit target, model, precision, threads)."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        if doc.get("schema") != RECORDS_SCHEMA:
            raise ValueError(f"schema is not {RECORDS_SCHEMA}")
        return {
            (get_target(r["target"]).name, r["model"], r["precision"], int(r["threads"])): r for r in doc["records"]
        }
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(
            f"calibration records {path} are unusable: {exc}", hint="make them: python benchmarks/bench_estimate.py"
        ) from None


def samples(rows: list[Row], records: dict[tuple[str, str, str, int], dict[str, Any]]) -> list[Sample]:
    """Each published row paired with its measured record (a row without one is an error)."""
    out = []
    for row in rows:
        record = records.get(row.key)
        if record is None:
            raise DataError(
                f"no measured record for published row {row.target} {row.model} {row.precision} {row.threads} threads",
                hint="run: python benchmarks/bench_estimate.py",
            )
        core = Core.from_target(get_target(row.target))
        if core is None:
            raise DataError(f"target {row.target} has no [microarch] table to estimate with")
        a, b = design_row(
            record["per_inference"],
            ModelCost.from_dict(record["cost"]),
            core,
            row.clock_ghz,
            row.threads,
            PARALLEL_FRACTION,
        )
        out.append(Sample(row, a, b))
    return out


def fit(data: list[Sample]) -> tuple[float, float]:
    """(k, beta) minimising the sum of squared relative errors, both kept positive."""
    import numpy as np

    A = np.array([[s.a / s.row.latency_ms, s.b / s.row.latency_ms] for s in data], dtype=np.float64)
    ones = np.ones(len(data))
    x, *_ = np.linalg.lstsq(A, ones, rcond=None)
    if x[0] <= 0 or x[1] <= 0:  # one term alone: the best non-negative fit keeps the other
        fits = []
        for col in (0, 1):
            v = float(A[:, col] @ ones / (A[:, col] @ A[:, col])) if A[:, col].any() else 0.0
            y = np.zeros(2)
            y[col] = max(v, 0.0)
            fits.append((float(np.sum((A @ y - ones) ** 2)), y))
        x = min(fits, key=lambda f: f[0])[1]
    k, inv_beta = float(x[0]), float(x[1])
    if k <= 0:
        raise DataError("the published rows cannot be explained by the counted instructions (k <= 0)")
    return k, (1.0 / inv_beta if inv_beta > 0 else math.inf)


def predict_ms(s: Sample, k: float, beta: float) -> float:
    return k * s.a + (s.b / beta if math.isfinite(beta) else 0.0)


def leave_one_out(data: list[Sample]) -> list[float]:
    """Relative error of each row predicted by a fit on all the others (nan with < 3 rows)."""
    if len(data) < 3:
        return [math.nan] * len(data)
    out = []
    for i, held in enumerate(data):
        k, beta = fit(data[:i] + data[i + 1 :])
        out.append(predict_ms(held, k, beta) / held.row.latency_ms - 1.0)
    return out


def _round5(pct: float) -> int:
    return int(5 * math.ceil(pct / 5.0 - 1e-9))


def _row_table(data: list[Sample], k: float, beta: float, loo: list[float] | None) -> list[dict[str, Any]]:
    table = []
    for i, s in enumerate(data):
        fitted = predict_ms(s, k, beta)
        e = loo[i] if loo is not None else math.nan
        table.append(
            {
                **s.row.__dict__,
                "edgekit_target": s.row.key[0],
                "estimate_ms": round(fitted, 3),
                "error_pct": round(100 * (fitted / s.row.latency_ms - 1), 2),
                "loo_error_pct": None if math.isnan(e) else round(100 * e, 2),
            }
        )
    return table


def intervals(fitted: list[dict[str, Any]], validation: list[dict[str, Any]]) -> dict[str, Any]:
    """The ± stated with each estimate, from the errors actually seen.

    A calibrated board: the largest error on that board, leave-one-out on the published rows or
    out of sample on the validation rows, rounded up to 5% (at least 10%). A board whose core is
    calibrated elsewhere: 1.5 x the worst calibrated board (its memory system is unknown). A core
    never calibrated: 2 x."""
    by_target: dict[str, float] = {}
    for r in fitted + validation:
        errs = [abs(r["error_pct"])] + ([abs(r["loo_error_pct"])] if r.get("loo_error_pct") is not None else [])
        by_target[r["edgekit_target"]] = max(by_target.get(r["edgekit_target"], 0.0), *errs)
    calibrated = {
        t: max(MIN_INTERVAL_PCT, _round5(e))
        for t, e in sorted(by_target.items())
        if any(r["edgekit_target"] == t for r in fitted)
    }
    worst = max(calibrated.values())
    return {"calibrated": calibrated, "same_core": _round5(1.5 * worst), "uncalibrated": _round5(2 * worst)}


def calibrate(
    rows: list[Row], records: dict[tuple[str, str, str, int], dict[str, Any]], validation: list[Row] = ()
) -> dict[str, Any]:
    """The params document: (k, beta) fitted on `rows` only; per-row fit and leave-one-out errors;
    `validation` rows (never fitted) predicted out of sample; the intervals those errors give."""
    data = samples(rows, records)
    k, beta = fit(data)
    loo = leave_one_out(data)
    table = _row_table(data, k, beta, loo)
    checks = _row_table(samples(list(validation), records), k, beta, None) if validation else []
    finite = [e for e in loo if not math.isnan(e)]
    return {
        "method": METHOD,
        "method_version": METHOD_VERSION,
        "params": {"k": k, "beta": beta, "parallel_fraction": PARALLEL_FRACTION},
        "objective": "least squares of relative error over the published rows (closed form)",
        "rows": table,
        "validation_rows": checks,
        "loo": {
            "max_abs_pct": round(100 * max(map(abs, finite)), 2) if finite else None,
            "rms_pct": round(100 * math.sqrt(sum(e * e for e in finite) / len(finite)), 2) if finite else None,
        },
        "interval_pct": intervals(table, checks),
        "calibrated_targets": sorted({r["edgekit_target"] for r in table}),
        "calibrated_cores": sorted({Core.from_target(get_target(r["edgekit_target"])).name for r in table}),
    }


def _digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def run(published: Path, records_path: Path, extra: Path | None = EXTRA) -> dict[str, Any]:
    """Calibrate from files (the extra rows only validate); the document names the inputs and hashes."""
    validation = read_rows(extra) if extra is not None and Path(extra).is_file() else []
    doc = calibrate(read_rows(published), read_records(records_path), validation)
    doc["inputs"] = {
        "published": Path(published).name,
        "published_sha256": _digest(published),
        "records": Path(records_path).name,
        "records_sha256": _digest(records_path),
    }
    if validation:
        doc["inputs"].update(extra=Path(extra).name, extra_sha256=_digest(extra))
    return doc


def _lines(rows: list[dict[str, Any]]) -> list[str]:
    out = []
    for r in rows:
        loo = "-" if r["loo_error_pct"] is None else f"{r['loo_error_pct']:+.1f}%"
        out.append(
            f"{r['target']:<9}{r['model']:<22}{r['precision']:<6}{r['threads']:>4}{r['clock_ghz']:>6.2f}"
            f"{r['latency_ms']:>9.1f}ms{r['estimate_ms']:>8.1f}ms{r['error_pct']:>+8.1f}%{loo:>9}"
        )
    return out


def table_text(doc: dict[str, Any]) -> str:
    """The fit as a table: published vs estimate, error, leave-one-out error; then validation rows."""
    p = doc["params"]
    head = (
        f"{'target':<9}{'model':<22}{'prec':<6}{'thr':>4}{'GHz':>6}{'published':>11}{'estimate':>10}"
        f"{'error':>9}{'LOO err':>9}"
    )
    lines = [
        f"k = {p['k']:.4f} (share of the serial issue cost that is paid), beta = {p['beta']:.4f} "
        f"(fraction of peak DRAM bandwidth for spilled bytes), P = {p['parallel_fraction']}",
        "published rows (fitted):",
        head,
        *_lines(doc["rows"]),
        f"leave-one-out: max |error| {doc['loo']['max_abs_pct']}%, rms {doc['loo']['rms_pct']}%",
    ]
    if doc.get("validation_rows"):
        lines += ["extra rows (never fitted, out of sample):", head, *_lines(doc["validation_rows"])]
    iv = doc["interval_pct"]
    lines.append(
        "interval: "
        + ", ".join(f"{t} ±{v}%" for t, v in iv["calibrated"].items())
        + f"; same core, other board ±{iv['same_core']}%; uncalibrated core ±{iv['uncalibrated']}%"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edge_kit.estimate.calibrate", description=__doc__.splitlines()[0])
    parser.add_argument("--published", type=Path, default=PUBLISHED, help="published latencies CSV")
    parser.add_argument("--records", type=Path, default=RECORDS, help="measured records JSON")
    parser.add_argument("--extra", type=Path, default=EXTRA, help="validation rows CSV (never fitted)")
    parser.add_argument("--write", action="store_true", help=f"store the fit in {PARAMS}")
    parser.add_argument("--json", action="store_true", help="print the params document as JSON")
    args = parser.parse_args(argv)
    try:
        doc = run(args.published, args.records, args.extra)
    except EdgeKitError as exc:
        print(f"calibrate: error: {exc.one_line()}", file=sys.stderr)
        return exc.exit_code
    print(json.dumps(doc, indent=2) if args.json else table_text(doc))
    if args.write:
        doc["fit_date"] = date.today().isoformat()
        PARAMS.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {PARAMS}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
