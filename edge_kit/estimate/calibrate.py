"""Fit the estimate's parameters on the published device latencies; leave-one-model-out errors.

    python -m edge_kit.estimate.calibrate [--published CSV] [--records JSON] [--extra CSV] [--write] [--json]

Inputs: the published rows (`data/published_latencies.csv`, a verbatim copy of the project's
reference file: real devices, with sources; nothing else is ever fitted) and, for each row, what
edgekit measured for that model on that target (`data/calibration_records.json`: instruction
counts per class and the per-operator byte analysis, written by `benchmarks/bench_estimate.py`).
The fit (least squares on relative error with weak stated priors, `crossval.py`) is
deterministic; each model is then held out in turn (all its rows: both precisions) and predicted
by a fit on the others. The intervals reports state come from those out-of-sample errors.
`--write` stores the result in `data/params.json`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from edge_kit.errors import EdgeKitError
from edge_kit.estimate import checks, crossval
from edge_kit.estimate.model import METHOD, METHOD_VERSION, PARALLEL_FRACTION
from edge_kit.estimate.rows import EXTRA, PUBLISHED, RECORDS, Key, Row, read_records, read_rows, samples

DATA = Path(__file__).resolve().parent / "data"
PARAMS = DATA / "params.json"


def calibrate(rows: list[Row], records: dict[Key, dict[str, Any]], validation: Sequence[Row] = ()) -> dict[str, Any]:
    """The params document: parameters fitted on `rows` only, with the rows each one comes from;
    every row's in-fit and leave-one-model-out error; `validation` rows (never fitted) predicted
    out of sample; per-board intervals from the out-of-sample errors; the sanity checks."""
    data = samples(rows, records)
    params, names, vector = crossval.fit(data)
    cv = crossval.leave_one_model_out(data)
    table = crossval.row_table(data, params, cv)
    checked = crossval.row_table(samples(list(validation), records), params, None) if validation else []
    return {
        "method": METHOD,
        "method_version": METHOD_VERSION,
        "params": crossval.params_dict(params),
        "fitted_on": crossval.fitted_on(data, params, names, vector),
        "priors": crossval.priors_doc(),
        "objective": "least squares of relative error over the published rows, plus the weak priors",
        "rows": table,
        "validation_rows": checked,
        "cv": crossval.cv_summary(table),
        "cv_params": {model: crossval.params_dict(p) for model, (_, p) in cv.items()},
        "interval_pct": crossval.intervals(table, checked),
        "checks": {
            "out_of_sample": checks.summary(table, "cv_estimate_ms"),
            "in_fit": checks.summary(table, "estimate_ms"),
        },
        "calibrated_targets": sorted({r["edgekit_target"] for r in table}),
        "calibrated_cores": sorted(params.cores),
        "parallel_fraction": {"value": PARALLEL_FRACTION, "source": "measured (4-thread counts), not fitted"},
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
        doc["inputs"].update(extra=Path(extra).name, extra_sha256=_digest(extra))  # type: ignore[arg-type]
    return doc


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1f}%"


def _lines(rows: list[dict[str, Any]], cv: bool) -> list[str]:
    return [
        f"{r['target']:<8}{r['model']:<28}{r['precision']:<6}{r['latency_ms']:>8.1f}ms{r['estimate_ms']:>8.1f}ms"
        f"{_pct(r['error_pct']):>9}" + (f"{r['cv_estimate_ms']:>8.1f}ms{_pct(r['cv_error_pct']):>9}" if cv else "")
        for r in rows
    ]


def table_text(doc: dict[str, Any]) -> str:
    """The fit as text: parameters and their rows, every row in fit and out of sample, intervals, checks."""
    head = f"{'target':<8}{'model':<28}{'prec':<6}{'published':>10}{'in fit':>10}{'error':>9}"
    lines = ["parameters (each fitted on the published rows listed; priors in docs/estimate.md):"]
    for name, info in doc["fitted_on"].items():
        lines.append(f"  {name:<22}{info['value']:>8.4f}  from {len(info['rows'])} rows: {', '.join(info['rows'])}")
    cv = doc["cv"]
    lines += [
        "published rows: fitted on all of them, and leave-one-model-out (the row's model, every precision, "
        "held out of the fit):",
        head + f"{'held out':>10}{'error':>9}",
        *_lines(doc["rows"], cv=True),
        f"leave-one-model-out: median |error| {cv['median_abs_pct']}%, max {cv['max_abs_pct']}%, "
        f"{cv['within_15_pct']}/{cv['rows']} rows within ±15%",
    ]
    if doc.get("validation_rows"):
        lines += ["extra rows (never fitted, out of sample):", head, *_lines(doc["validation_rows"], cv=False)]
    iv = doc["interval_pct"]
    lines.append(
        "interval stated in reports (largest out-of-sample error on the board, rounded up to 5%): "
        + ", ".join(f"{t} ±{v}%" for t, v in iv["calibrated"].items())
    )
    lines += ["sanity checks, out of sample:", checks.text(doc["checks"]["out_of_sample"])]
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
        tmp = PARAMS.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        tmp.replace(PARAMS)
        print(f"wrote {PARAMS}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
