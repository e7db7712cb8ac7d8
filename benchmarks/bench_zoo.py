"""Zoo conformance: edgekit against the raw converters on outside models (not a test).

    .venv/bin/python benchmarks/bench_zoo.py [--models subset|NAME,...] [--formats onnx,tflite,executorch]
        [--precisions fp32,int8] [--jobs 1] [--cache DIR] [--out DIR] [--timeout 900] [--force]
        [--no-raw] [--no-edgekit] [--where-raw-ok]

For every model × format × precision cell: edgekit's result through its CLI (`edgekit export SRC
--format F --quantize P [--calibration random] --json -o OUT`, validated on the model's sample
inputs) and the underlying converter run directly (benchmarks/zoo/raw.py), each run in its
runtime and compared with the source. Prints the table, the pass rate (fp32 cells edgekit
validates ok / all fp32 cells) and every cell where edgekit does worse than the raw converter.
The models are built once into --cache (default $EDGEKIT_ZOO_CACHE or ~/.cache/edgekit-zoo);
results go to --out (default build/zoo-bench): cells.jsonl (one line per finished cell; a re-run
reuses them unless --force) and results.json. Extra packages: benchmarks/zoo/INSTALL.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.zoo import edgekit_cell  # noqa: E402
from benchmarks.zoo.build import load_built  # noqa: E402
from benchmarks.zoo.models import select  # noqa: E402
from benchmarks.zoo.spec import FORMATS, PRECISIONS, Entry  # noqa: E402

RANK = {"ok": 2, "mismatch": 1, "failed": 0, "timeout": 0, "nopath": 0, "none": 0}  # anything not written ranks alike
IDENTITY = "the source file itself"  # raw.py's converter name for a source already in the format
SIZE_WORSE = 1.5  # an artifact this much larger than the raw converter's counts as worse


class Store:
    """cells.jsonl: finished cells by (side, model, format, precision), appended as they finish."""

    def __init__(self, path: Path, force: bool) -> None:
        self.path, self.lock, self.cells, self.force = path, threading.Lock(), {}, force
        if path.exists():  # a later line for the same cell wins
            for line in path.read_text().splitlines():
                row = json.loads(line)
                self.cells[_key(row)] = row

    def add(self, row: dict) -> None:
        with self.lock:
            self.cells[_key(row)] = row
            with open(self.path, "a") as handle:
                handle.write(json.dumps(row) + "\n")

    def has(self, side: str, model: str, fmt: str, precision: str) -> bool:
        """Finished already (always False with --force: the selected cells run again)."""
        return not self.force and (side, model, fmt, precision) in self.cells


def _key(row: dict) -> tuple[str, str, str, str]:
    return row["side"], row["model"], row["format"], row["precision"]


def build_all(entries: list[Entry], cache: Path, timeout: float) -> dict[str, str]:
    """Build every entry (in a subprocess: timm/ultralytics imports stay out of this process);
    returns the build error of each entry that failed."""
    cmd = [sys.executable, "-m", "benchmarks.zoo.build", "--cache", str(cache), "--json", *[e.name for e in entries]]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=timeout)
    errors = {}
    for line in done.stdout.splitlines():
        if line.startswith("{"):
            row = json.loads(line)
            if not row["ok"]:
                errors[row["name"]] = row["error"]
    return errors


def raw_job(entry: Entry, cells: list[tuple[str, str]], args: argparse.Namespace, store: Store) -> None:
    """The raw cells of one model in one worker process; a crash fails the running cell and the
    worker restarts for the rest."""
    todo = [c for c in cells if not store.has("raw", entry.name, *c)]
    while todo:
        cmd = [sys.executable, "-m", "benchmarks.zoo.raw", "--cache", str(args.cache), "--out", str(args.out / "raw")]
        cmd += [entry.name, *[f"{f}:{p}" for f, p in todo]]
        log = args.out / "logs" / f"raw-{entry.name}.log"
        start = time.perf_counter()
        with open(log, "a") as err:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True, cwd=ROOT)
            timer = threading.Timer(args.timeout * len(todo), proc.kill)
            timer.start()
            for line in proc.stdout:  # type: ignore[union-attr]
                if line.startswith("{"):
                    row = json.loads(line)
                    store.add({"side": "raw", **row})
                    todo = [c for c in todo if c != (row["format"], row["precision"])]
                    _progress("raw", row)
            proc.wait()
            timer.cancel()
        if todo:
            fmt, precision = todo.pop(0)
            tail = [x for x in log.read_text(errors="replace").splitlines() if x.strip()][-1:]
            error = f"worker died (exit {proc.returncode}) after {time.perf_counter() - start:.0f} s: {tail}"
            row = {"side": "raw", "model": entry.name, "format": fmt, "precision": precision, "status": "failed"}
            store.add({**row, "error": error[:400]})


def edgekit_job(
    entry: Entry, fmt: str, precision: str, args: argparse.Namespace, store: Store, raw: Future | None = None
) -> None:
    if store.has("edgekit", entry.name, fmt, precision):
        return
    if args.where_raw_ok:  # only the cells that can show edgekit doing worse than the raw converter
        if raw is not None:
            raw.result()
        if (store.cells.get(("raw", entry.name, fmt, precision)) or {}).get("status") != "ok":
            return
    built = load_built(entry, args.cache)
    assert built is not None
    result = edgekit_cell.run(built, fmt, precision, args.out / "edgekit" / entry.name, args.timeout)
    row = {"side": "edgekit", **result.to_dict()}
    store.add(row)
    _progress("edgekit", row)


def interleave(entries: list[Entry]) -> list[Entry]:
    """Scheduling order: round-robin over origins, so a partial run already covers every kind."""
    groups: dict[str, list[Entry]] = {}
    for entry in entries:
        groups.setdefault(entry.framework.split("==")[0], []).append(entry)
    order = []
    while any(groups.values()):
        for group in groups.values():
            if group:
                order.append(group.pop(0))
    return order


def _progress(side: str, row: dict) -> None:
    detail = row.get("error") or (f"diff {row['max_abs_diff']:.2g}" if row.get("max_abs_diff") is not None else "")
    print(
        f"  {side:7} {row['model']:30} {row['format']:10} {row['precision']:5} {row['status']:8} "
        f"{row.get('seconds', 0):6.1f}s {detail[:110]}",
        file=sys.stderr,
        flush=True,
    )


def _mb(size: int | None) -> str:
    return f"{size / 1e6:.1f}MB" if size else "-"


def _cell_text(row: dict | None) -> str:
    if row is None:
        return "not run"
    diff = f" d={row['max_abs_diff']:.1e}" if row.get("max_abs_diff") is not None else ""
    return f"{row['status']}{diff} {_mb(row.get('size_bytes'))} {row.get('seconds', 0):.0f}s"


def worse(edge: dict | None, raw: dict | None) -> str | None:
    """Why edgekit does worse than the raw converter in this cell, or None."""
    if edge is None or raw is None:
        return None
    if raw.get("converter") == IDENTITY and edge["status"] == "nopath":
        return None  # the source already is that format and edgekit offers no such path: nothing to compare
    if RANK[edge["status"]] < RANK[raw["status"]]:
        return f"edgekit {edge['status']} where raw is {raw['status']}"
    sizes = edge.get("size_bytes"), raw.get("size_bytes")
    if edge["status"] == raw["status"] == "ok" and all(sizes) and sizes[0] > SIZE_WORSE * sizes[1]:
        return f"edgekit artifact {sizes[0] / sizes[1]:.2f}x the raw converter's size"
    return None


def report(entries: list[Entry], cells: list[tuple[str, str]], store: Store, build_errors: dict) -> dict:
    """Print the table and summary; return the results document."""
    rows, regressions = [], []
    print(f"\n{'model':30} {'cell':17} {'edgekit':34} {'raw':34}")
    for entry in entries:
        if entry.name in build_errors:
            print(f"{entry.name:30} build failed: {build_errors[entry.name]}")
            continue
        for fmt, precision in cells:
            edge = store.cells.get(("edgekit", entry.name, fmt, precision))
            raw = store.cells.get(("raw", entry.name, fmt, precision))
            why = worse(edge, raw)
            print(
                f"{entry.name:30} {fmt + ':' + precision:17} {_cell_text(edge):34} {_cell_text(raw):34}"
                f"{'  <-- WORSE' if why else ''}"
            )
            rows.append(
                {"model": entry.name, "format": fmt, "precision": precision, "edgekit": edge, "raw": raw, "worse": why}
            )
            if why:
                regressions.append((entry.name, fmt, precision, why, edge, raw))
    summary = _summary(rows)
    print(
        f"\npass rate (fp32 cells edgekit validates ok / fp32 cells run): {summary['fp32_edgekit_ok']}/"
        f"{summary['fp32_cells']} = {summary['fp32_pass_rate']:.1%}"
        f"   (raw converters: {summary['fp32_raw_ok']}/{summary['fp32_cells']}; edgekit ok in "
        f"{summary['fp32_raw_ok_edgekit_ok']} of the {summary['fp32_raw_ok']} where raw is ok)"
    )
    if summary["int8_cells"]:
        print(
            f"int8 cells ok: edgekit {summary['int8_edgekit_ok']}/{summary['int8_cells']}, "
            f"raw {summary['int8_raw_ok']}/{summary['int8_cells']}; edgekit ok in "
            f"{summary['int8_raw_ok_edgekit_ok']} of the {summary['int8_raw_ok']} where raw is ok"
        )
    print(f"\ncells where edgekit does worse than the raw converter: {len(regressions)}")
    for name, fmt, precision, why, edge, raw in regressions:
        error = edge.get("error") or "; ".join(edge.get("reasons") or [])
        print(f"  {name} {fmt}:{precision}: {why}; raw: {raw.get('converter', '')}\n      edgekit: {error[:300]}")
    return {"summary": summary, "cells": rows, "build_errors": build_errors}


def _summary(rows: list[dict]) -> dict:
    def count(precision: str, side: str | None = None) -> int:
        picked = [r for r in rows if r["precision"] == precision and r["edgekit"] is not None]
        return len(picked) if side is None else sum(1 for r in picked if (r[side] or {}).get("status") == "ok")

    def both_ok(precision: str) -> int:
        return sum(
            1
            for r in rows
            if r["precision"] == precision
            and (r["raw"] or {}).get("status") == "ok"
            and (r["edgekit"] or {}).get("status") == "ok"
        )

    fp32 = count("fp32")
    return {
        "fp32_cells": fp32,
        "fp32_edgekit_ok": count("fp32", "edgekit"),
        "fp32_raw_ok": count("fp32", "raw"),
        "fp32_pass_rate": count("fp32", "edgekit") / fp32 if fp32 else 0.0,
        "fp32_raw_ok_edgekit_ok": both_ok("fp32"),
        "int8_cells": count("int8"),
        "int8_edgekit_ok": count("int8", "edgekit"),
        "int8_raw_ok": count("int8", "raw"),
        "int8_raw_ok_edgekit_ok": both_ok("int8"),
        "worse": sum(1 for r in rows if r["worse"]),
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", help="comma-separated names or substrings, or 'subset' (default: all)")
    parser.add_argument("--formats", default=",".join(FORMATS))
    parser.add_argument("--precisions", default=",".join(PRECISIONS))
    parser.add_argument("--jobs", type=int, default=1, help="cells run in parallel (default 1)")
    default_cache = os.environ.get("EDGEKIT_ZOO_CACHE") or Path.home() / ".cache" / "edgekit-zoo"
    parser.add_argument("--cache", type=Path, default=Path(default_cache))
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "zoo-bench")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per cell")
    parser.add_argument("--force", action="store_true", help="re-run the selected cells even if cells.jsonl has them")
    parser.add_argument("--no-raw", action="store_true", help="skip the raw converters")
    parser.add_argument("--no-edgekit", action="store_true", help="skip edgekit")
    parser.add_argument(
        "--where-raw-ok",
        action="store_true",
        help="run edgekit only in the cells the raw converter got ok (the cells where it could do worse)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    entries = select(args.models.split(",") if args.models else None)
    cells = [(f, p) for p in args.precisions.split(",") for f in args.formats.split(",")]
    (args.out / "logs").mkdir(parents=True, exist_ok=True)
    store = Store(args.out / "cells.jsonl", args.force)
    start = time.perf_counter()
    build_errors = build_all(entries, args.cache, timeout=3600)
    print(
        f"built {len(entries) - len(build_errors)}/{len(entries)} models in {args.cache} "
        f"({time.perf_counter() - start:.0f} s)",
        file=sys.stderr,
    )
    ready = interleave([e for e in entries if e.name not in build_errors])
    jobs = []
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for entry in ready:
            raw = None if args.no_raw else pool.submit(raw_job, entry, cells, args, store)
            jobs += [raw] if raw is not None else []
            if not args.no_edgekit:
                jobs += [pool.submit(edgekit_job, entry, f, p, args, store, raw) for f, p in cells]
        for job in jobs:
            job.result()
    document = report(entries, cells, store, build_errors)
    document["wall_s"] = round(time.perf_counter() - start, 1)
    document["command"] = [sys.executable, *sys.argv]
    (args.out / "results.json").write_text(json.dumps(document, indent=1))
    print(
        f"\n{len(ready)} models, {len(cells)} cells each, {document['wall_s']:.0f} s; results: {args.out / 'results.json'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
