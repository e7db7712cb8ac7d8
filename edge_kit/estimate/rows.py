"""The calibration inputs: published rows (CSV) and what edgekit measured for each (records JSON).

A `Sample` pairs a published row with its parameter-free workload (counted instructions, static
per-operator bytes, the target's core), so fitting and cross-validation never touch the files.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_kit.errors import DataError
from edge_kit.estimate.model import PARALLEL_FRACTION, Core, Workload, workload
from edge_kit.estimate.opcost import ModelCost
from edge_kit.targets import get_target

DATA = Path(__file__).resolve().parent / "data"
PUBLISHED = DATA / "published_latencies.csv"
RECORDS = DATA / "calibration_records.json"
EXTRA = DATA / "extra_latencies.csv"
RECORDS_SCHEMA = "edgekit.estimate.records/1"
COLUMNS = ("target", "model", "runtime", "precision", "threads", "latency_ms", "clock_ghz", "source")

Key = tuple[str, str, str, int]


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
    def key(self) -> Key:
        return (get_target(self.target).name, self.model, self.precision, self.threads)


@dataclass(frozen=True)
class Sample:
    """A published row with its workload on the row's board (everything but the fitted parameters)."""

    row: Row
    core: str
    work: Workload


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


def read_records(path: Path) -> dict[Key, dict[str, Any]]:
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


def sample(row: Row, record: dict[str, Any]) -> Sample:
    """One row's workload from its record (the row's own clock and thread count)."""
    core = Core.from_target(get_target(row.target))
    if core is None:
        raise DataError(f"target {row.target} has no [microarch] table to estimate with")
    per_class = {c: float(n) for c, n in record["per_inference"].items()}
    cost = ModelCost.from_dict(record["cost"])
    return Sample(row, core.name, workload(per_class, cost, core, row.clock_ghz, row.threads, PARALLEL_FRACTION))


def samples(rows: list[Row], records: dict[Key, dict[str, Any]]) -> list[Sample]:
    """Each published row paired with its measured record (a row without one is an error)."""
    out = []
    for row in rows:
        record = records.get(row.key)
        if record is None:
            raise DataError(
                f"no measured record for published row {row.target} {row.model} {row.precision} {row.threads} threads",
                hint="run: python benchmarks/bench_estimate.py --measure --write-records",
            )
        out.append(sample(row, record))
    return out
