"""Calibration: deterministic, only on the published rows, leave-one-out reported, shipped fit current."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from edge_kit.errors import DataError
from edge_kit.estimate import calibrate
from edge_kit.estimate.calibrate import EXTRA, PARAMS, PUBLISHED, RECORDS, Row, Sample

SHARED = Path(__file__).resolve().parents[3] / "shared" / "reference" / "published_latencies.csv"
COMPARED = ("params", "rows", "validation_rows", "loo", "interval_pct", "calibrated_targets", "calibrated_cores")


def _fresh() -> dict:
    return calibrate.run(PUBLISHED, RECORDS, EXTRA)


def test_shipped_params_match_a_fresh_fit_of_the_shipped_records() -> None:
    shipped, fresh = json.loads(PARAMS.read_text()), _fresh()
    for key in COMPARED:
        assert json.dumps(fresh[key], sort_keys=True) == json.dumps(shipped[key], sort_keys=True), key
    assert shipped["inputs"]["records_sha256"] == fresh["inputs"]["records_sha256"]


def test_fit_is_deterministic() -> None:
    assert json.dumps(_fresh(), sort_keys=True) == json.dumps(_fresh(), sort_keys=True)


@pytest.mark.skipif(not SHARED.is_file(), reason="the project's shared reference file is not beside the repo")
def test_the_repo_copy_of_the_published_rows_is_verbatim() -> None:
    assert PUBLISHED.read_bytes() == SHARED.read_bytes()


def test_every_published_row_is_within_15_percent_and_loo_is_reported() -> None:
    doc = json.loads(PARAMS.read_text())
    assert len(doc["rows"]) == 3
    for row in doc["rows"]:
        assert abs(row["error_pct"]) <= 15, row
        assert row["loo_error_pct"] is not None
    assert doc["loo"]["max_abs_pct"] == max(abs(r["loo_error_pct"]) for r in doc["rows"])
    assert doc["fit_date"] and doc["params"]["k"] > 0 and doc["params"]["beta"] > 0


def test_extra_rows_never_move_the_fit(tmp_path: Path) -> None:
    """Changing an out-of-sample figure changes its error (and the interval), never k or beta."""
    changed = tmp_path / "extra.csv"
    text = EXTRA.read_text()
    changed.write_text(text.replace(",77,", ",300,"))
    base, moved = _fresh(), calibrate.run(PUBLISHED, RECORDS, changed)
    assert moved["params"] == base["params"] and moved["rows"] == base["rows"]
    assert moved["validation_rows"] != base["validation_rows"]
    assert moved["interval_pct"]["calibrated"]["raspi4"] > base["interval_pct"]["calibrated"]["raspi4"]


def _sample(target: str, latency: float, a: float, b: float) -> Sample:
    return Sample(Row(target, f"m{a}", "rt", "fp32", 4, latency, 1.5, "test"), a, b)


def test_fit_recovers_known_parameters_and_leave_one_out_is_exact_then() -> None:
    k, beta = 0.8, 0.25
    data = [_sample("raspi4", k * a + b / beta, a, b) for a, b in ((10, 1), (5, 3), (20, 0.5), (8, 2))]
    fk, fbeta = calibrate.fit(data)
    assert fk == pytest.approx(k) and fbeta == pytest.approx(beta)
    assert all(abs(e) < 1e-9 for e in calibrate.leave_one_out(data))
    assert all(math.isnan(e) for e in calibrate.leave_one_out(data[:2]))


def test_fit_keeps_parameters_positive() -> None:
    # Memory explains nothing here: the least-squares solution would want beta < 0.
    data = [_sample("raspi4", 10.0, 10, 0.1), _sample("raspi4", 20.0, 20, 5.0), _sample("raspi4", 5, 5, 0.1)]
    k, beta = calibrate.fit(data)
    assert k > 0 and beta > 0


def test_bad_inputs_are_one_line_data_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("target,model\nraspi4,x\n")
    with pytest.raises(DataError, match="missing column"):
        calibrate.read_rows(bad)
    row = Row("raspi4", "not-measured", "rt", "fp32", 4, 10.0, 1.5, "src")
    with pytest.raises(DataError, match="no measured record"):
        calibrate.samples([row], calibrate.read_records(RECORDS))
    (tmp_path / "r.json").write_text("{}")
    with pytest.raises(DataError, match="unusable"):
        calibrate.read_records(tmp_path / "r.json")


def test_cli_prints_the_table_and_leave_one_out(capsys: pytest.CaptureFixture[str]) -> None:
    assert calibrate.main([]) == 0
    out = capsys.readouterr().out
    assert "leave-one-out" in out and "LOO err" in out and "never fitted" in out
