"""Estimated device latency vs published measurements: every row out of sample (a script, not a test).

    .venv/bin/python benchmarks/bench_estimate.py                 # seconds: from the shipped records
    .venv/bin/python benchmarks/bench_estimate.py --measure [--end-to-end] [--recount] [--write-records] [--refit]
    .venv/bin/python benchmarks/bench_estimate.py --thread-balance  # 4-thread counts: the parallel fraction
    .venv/bin/python benchmarks/bench_estimate.py --measure --repeat

Default: fit the parameters on the published rows (edge_kit/estimate/data/published_latencies.csv,
a verbatim copy of the project's reference file) from the shipped measured records, and print
every row's error in the fit and out of sample (leave-one-model-out: all precisions of the row's
model held out of the fit), the never-fitted extra rows, the intervals reports state, the sanity
checks (order of models and precisions per board, fp32/int8 ratios per board against the
published ones) and the estimates on the boards without rows.

--measure       for each row, build the architecture in plain torch (sample_models: MobileNet v1/v2/v3,
                EfficientNet-Lite0/4; seeded random weights, MobileNetV2's ImageNet weights when
                installed), export it to TFLite with edgekit (fp32, or int8 static per-channel
                calibrated on bundled photos), profile it under QEMU on the row's target with
                instruction counting (cached under --out; minutes per model on 2 cores) and use
                those records instead of the shipped ones
--end-to-end    with --measure: also print the estimate of each profile report (the shipped parameters)
--write-records with --measure: merge the measured records into the shipped calibration_records.json
--refit         re-fit on the records and write data/params.json
--thread-balance  count the rows on 4 guest threads and print each thread's share of the SIMD work
--repeat        with --measure: profile the first row's artifact again from scratch (reproducibility)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edge_kit.estimate import calibrate, checks  # noqa: E402
from edge_kit.estimate.rows import RECORDS, RECORDS_SCHEMA, Row, read_records, read_rows  # noqa: E402

DATA = ROOT / "edge_kit" / "estimate" / "data"


def architecture(model: str) -> tuple[Any, int]:
    """(torch module in eval mode, input side) of a published row's model, built in plain torch."""
    from sample_models import efficientnet_lite, mobilenet, mobilenet_v3

    if model == "mobilenet_v2_1.0_224":
        try:
            return mobilenet.mobilenet_v2(pretrained=True), 224
        except ModuleNotFoundError:
            return mobilenet.mobilenet_v2(pretrained=False), 224
    builders = {
        "mobilenet_v1_1.0_224": (mobilenet.mobilenet_v1, 224),
        "mobilenet_v3_large_1.0_224": (mobilenet_v3.mobilenet_v3_large, 224),
        "mobilenet_v3_small_1.0_224": (mobilenet_v3.mobilenet_v3_small, 224),
        "efficientnet_lite0_224": (lambda: efficientnet_lite.efficientnet_lite("lite0"), 224),
        "efficientnet_lite4_300": (lambda: efficientnet_lite.efficientnet_lite("lite4"), 300),
    }
    if model not in builders:
        raise SystemExit(f"no architecture for {model}: known {', '.join(['mobilenet_v2_1.0_224', *builders])}")
    build, side = builders[model]
    return build(), side


def build_source(model: str, folder: Path) -> Path:
    """The model architecture as an ExportedProgram (.pt2), written once."""
    import torch

    path = folder / f"{model}.pt2"
    if path.exists():
        return path
    net, side = architecture(model)
    folder.mkdir(parents=True, exist_ok=True)
    torch.export.save(torch.export.export(net, (torch.zeros(1, 3, side, side),)), path)
    return path


def calibration_photos(folder: Path, side: int) -> Path:
    """Real photos (mirrored and zoomed views of scikit-image/scikit-learn's) for static int8."""
    import numpy as np

    from sample_models.mobilenet import load_photos

    path = folder / f"photos_calib_{side}.npz"
    if not path.exists():
        np.savez(path, x=load_photos(size=side, augment=True))
    return path


def artifact(row: Row, out: Path) -> Path:
    """The row's TFLite artifact, exported by edgekit once."""
    from edge_kit.pipeline import ExportRequest, export

    dest = out / "artifacts" / f"{row.model}.{row.precision}.tflite"
    if dest.exists() and dest.with_name(dest.name + ".json").exists():
        return dest
    source = build_source(row.model, out / "models")
    side = int(row.model.rsplit("_", 1)[-1])
    calib = calibration_photos(out / "models", side) if row.precision == "int8" else None
    export(
        ExportRequest(
            model=source,
            target=row.target,
            format="tflite",
            precision=row.precision,
            output=dest,
            calibration=calib,
            num_samples=2,
        )
    )
    return dest


def profiled(row: Row, art: Path, out: Path, recount: bool = False) -> dict[str, Any]:
    """The profile report of `art` on the row's target (cached by artifact hash and settings)."""
    from edge_kit.fsutil import sha256_file
    from edge_kit.profiler import ProfileRequest, profile
    from edge_kit.targets import get_target

    target = get_target(row.target).name
    key = f"{art.stem}.{target}.t{row.threads}.{sha256_file(art)[:12]}"
    cache = out / "reports" / f"{key}.json"
    if cache.exists() and not recount:
        return json.loads(cache.read_text())
    start = time.perf_counter()
    report = profile(
        ProfileRequest(
            artifact=art,
            target=target,
            num_threads=row.threads,
            warmup_runs=1,
            num_runs=1,
            count_runs=1,
            profile_ops=False,
        )
    )
    report["bench_seconds"] = round(time.perf_counter() - start, 1)
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(report, indent=1, default=str))
    return report


def record(row: Row, art: Path, report: dict[str, Any]) -> dict[str, Any]:
    """What the calibration needs from one profiled row (no published figure in it)."""
    from edge_kit.estimate.opcost import analyse

    return {
        "target": report["target"]["name"],
        "model": row.model,
        "precision": row.precision,
        "threads": row.threads,
        "per_inference": report["instructions"]["per_inference"],
        "counted_threads": report["settings"].get("count_threads"),
        "cost": analyse(art, "tflite").to_dict(),
        "artifact": {k: report["artifact"][k] for k in ("file", "sha256", "size_bytes")},
        "runtime": f"{report['runtime']['name']} {report['runtime'].get('version')}",
        "qemu_cpu": report["backend"].get("qemu_cpu"),
        "cpu_parts": report["machine"]["cpu"]["parts"],
    }


def records_json(records: list[dict[str, Any]]) -> str:
    """The records document, one record per line (compact, and diffs stay readable)."""
    body = ",\n".join(json.dumps(r, separators=(",", ":"), sort_keys=True) for r in records)
    return f'{{"schema": "{RECORDS_SCHEMA}", "records": [\n{body}\n]}}\n'


def estimate(report: dict[str, Any], target: str, clock_ghz: float | None) -> dict[str, Any]:
    from edge_kit.estimate import estimate_from_report
    from edge_kit.targets import get_target

    return estimate_from_report(report, get_target(target), clock_ghz)


def run_rows(rows: list[Row], out: Path, recount: bool) -> list[tuple[Row, Path, dict[str, Any]]]:
    done = []
    for row in rows:
        t0 = time.perf_counter()
        art = artifact(row, out)
        report = profiled(row, art, out, recount)
        print(f"# {row.target} {row.model} {row.precision}: {time.perf_counter() - t0:.0f}s", file=sys.stderr)
        done.append((row, art, report))
    return done


def comparison(done: list[tuple[Row, Path, dict[str, Any]]], title: str) -> str:
    """Each profile report's own estimate (shipped parameters) against the published figure."""
    lines = [
        title,
        f"{'target':<9}{'model':<28}{'prec':<6}{'published':>10}{'estimate':>10}{'error':>8}  interval",
    ]
    for row, _, report in done:
        est = estimate(report, row.target, row.clock_ghz)
        ms = est["estimated_device_latency_ms"]
        lines.append(
            f"{row.target:<9}{row.model:<28}{row.precision:<6}{row.latency_ms:>8.1f}ms{ms:>8.1f}ms"
            f"{100 * (ms / row.latency_ms - 1):>+7.1f}%  {'±' if est['calibrated'] else 'uncalibrated ±'}"
            f"{est['interval_pct']}%"
        )
    return "\n".join(lines)


def uncalibrated_boards(records_path: Path) -> str:
    """Estimates from the records measured on boards without published rows (shipped parameters)."""
    from edge_kit.estimate import estimate_from_report
    from edge_kit.estimate.model import load_params_doc
    from edge_kit.estimate.opcost import ModelCost
    from edge_kit.targets import get_target

    calibrated = load_params_doc()["interval_pct"]["calibrated"]
    lines = ["boards without published rows (records measured there; shipped parameters):"]
    for (target, model, precision, threads), rec in sorted(read_records(records_path).items()):
        t = get_target(target)
        if target in calibrated:
            continue
        report = {
            "instructions": {"per_inference": rec["per_inference"]},
            "settings": {"num_threads": threads},
            "artifact": {"size_bytes": rec["artifact"]["size_bytes"]},
        }
        est = estimate_from_report(report, t, cost=ModelCost.from_dict(rec["cost"]))
        lines.append(
            f"  {target:<13}{model:<22}{precision:<6}{threads} threads: {est['estimated_device_latency_ms']:.2f} ms "
            f"({est['note']})"
        )
    return "\n".join(lines)


def repeat(row: Row, out: Path) -> str:
    """The first row profiled twice from scratch: how far apart the two estimates are."""
    art = artifact(row, out)
    first = estimate(profiled(row, art, out, recount=True), row.target, row.clock_ghz)
    second = estimate(profiled(row, art, out, recount=True), row.target, row.clock_ghz)
    a, b = first["estimated_device_latency_ms"], second["estimated_device_latency_ms"]
    return (
        f"reproducibility ({row.target} {row.model} {row.precision}): {a:.4f} ms vs {b:.4f} ms, "
        f"difference {100 * abs(a - b) / a:.4f}%"
    )


def thread_balance(rows: list[Row], out: Path) -> str:
    """Each row counted on 4 guest threads: the busiest thread's share of the SIMD work."""
    from edge_kit.profiler import ProfileRequest, profile
    from edge_kit.targets import get_target

    simd = ("neon_fmla", "neon_fp", "neon_int", "neon_int_mac", "dotprod", "simd_load", "simd_store")
    lines = ["SIMD work per guest thread, 4 threads (spin-waits are scalar and left out):"]
    speedups = []
    for row in rows:
        art = artifact(row, out)
        rep = profile(
            ProfileRequest(
                artifact=art,
                target=get_target(row.target).name,
                num_threads=4,
                warmup_runs=1,
                num_runs=1,
                count_runs=1,
                count_threads=4,
                profile_ops=False,
            )
        )
        work = [sum(t[c] for c in simd) for t in rep["instructions"]["per_thread"] if any(t.values())]
        speedups.append(sum(work) / max(work))
        lines.append(
            f"  {row.target:<8}{row.model:<28}{row.precision:<6}{speedups[-1]:.2f}x of 4 "
            f"(P = {(1 - 1 / speedups[-1]) / 0.75:.3f})"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bench_estimate", help="cache folder")
    parser.add_argument("--published", type=Path, default=DATA / "published_latencies.csv")
    for flag in (
        "--measure",
        "--end-to-end",
        "--recount",
        "--write-records",
        "--refit",
        "--thread-balance",
        "--repeat",
    ):
        parser.add_argument(flag, action="store_true")
    args = parser.parse_args()
    from edge_kit import progress

    progress.set_quiet(True)
    rows = read_rows(args.published)
    extra = read_rows(DATA / "extra_latencies.csv")
    records_path = RECORDS
    if args.measure:
        done, checked = run_rows(rows, args.out, args.recount), run_rows(extra, args.out, args.recount)
        text = records_json([record(r, a, rep) for r, a, rep in done + checked])
        records_path = args.out / "calibration_records.json"
        records_path.write_text(text)
        if args.write_records:
            merged = {**read_records(RECORDS), **read_records(records_path)}
            (DATA / "calibration_records.json").write_text(records_json(list(merged.values())))
            records_path = RECORDS
        if args.end_to_end:
            print(comparison(done, "End to end: each profile report's estimate (shipped parameters):"))
    if args.refit:
        calibrate.main(["--published", str(args.published), "--records", str(records_path), "--write"])
    doc = calibrate.run(args.published, records_path, DATA / "extra_latencies.csv")
    print(f"records: {records_path}")
    print(calibrate.table_text(doc))
    print("sanity checks, in the fit:")
    print(checks.text(doc["checks"]["in_fit"]))
    print(uncalibrated_boards(records_path))
    if args.thread_balance:
        print(thread_balance(rows + extra, args.out))
    if args.measure and args.repeat:
        print(repeat(rows[0], args.out))


if __name__ == "__main__":
    main()
