"""Estimated device latency vs published measurements, end to end (a script, not a test).

    .venv/bin/python benchmarks/bench_estimate.py [--out DIR] [--no-extra] [--ordering] [--repeat]
        [--recount] [--write-records] [--refit]

For each row of edge_kit/estimate/data/published_latencies.csv (a verbatim copy of the
project's reference file): build the model architecture in plain torch (MobileNetV2 with its
ImageNet weights when installed, else seeded random weights; MobileNet v1 seeded random), export
it to TFLite with edgekit (fp32, or int8 static per-channel calibrated on bundled photos),
profile it under QEMU on the row's target with instruction counting, estimate, and print the
estimate against the published figure. Reports (with the counts) are cached under --out, so a
second run re-estimates in seconds; --recount re-emulates.

--no-extra      skip the rows of data/extra_latencies.csv (found in public sources; never
                fitted: an out-of-sample check that also sizes the stated interval)
--ordering      MobileNetV2 fp32 and int8 on raspi4, raspi5 and android-arm64 (4 threads; their
                records are stored too, so tests check the ordering without emulating)
--repeat        profile the first row's artifact again from scratch: reproducibility of the estimate
--write-records store the measured records in edge_kit/estimate/data/calibration_records.json
--refit         then re-fit the parameters on the published rows (data/params.json)
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

from edge_kit.estimate import calibrate  # noqa: E402
from edge_kit.estimate.calibrate import RECORDS_SCHEMA, Row, read_rows  # noqa: E402

DATA = ROOT / "edge_kit" / "estimate" / "data"
ORDERING_TARGETS = ("raspi4", "raspi5", "android-arm64")


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
    from edge_kit.export import ExportRequest, export

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
    from edge_kit.profile import ProfileRequest, profile
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
    lines = [
        title,
        f"{'target':<9}{'model':<22}{'prec':<6}{'thr':>4}{'GHz':>6}{'published':>11}{'estimate':>10}"
        f"{'error':>8}  interval",
    ]
    for row, _, report in done:
        est = estimate(report, row.target, row.clock_ghz)
        ms = est["estimated_device_latency_ms"]
        lines.append(
            f"{row.target:<9}{row.model:<22}{row.precision:<6}{row.threads:>4}{row.clock_ghz:>6.2f}"
            f"{row.latency_ms:>9.1f}ms{ms:>8.1f}ms{100 * (ms / row.latency_ms - 1):>+7.1f}%  "
            f"{'±' if est['calibrated'] else 'uncalibrated ±'}{est['interval_pct']}%"
        )
    return "\n".join(lines)


def ordering_rows() -> list[Row]:
    """MobileNetV2 fp32 and int8, 4 threads, on the three boards (no published figure: latency 0)."""
    return [
        Row(t, "mobilenet_v2_1.0_224", "tflite-xnnpack", p, 4, 0.0, 0.0, "")
        for t in ORDERING_TARGETS
        for p in ("fp32", "int8")
    ]


def ordering(done: list[tuple[Row, Path, dict[str, Any]]]) -> str:
    """MobileNetV2 fp32 / int8 estimates on the three boards at their default clocks."""
    est = {(row.target, row.precision): estimate(rep, row.target, None) for row, _, rep in done}
    lines = [
        "MobileNetV2 1.0 224, 4 threads, each target's default clock:",
        f"{'target':<15}{'GHz':>5}{'fp32 ms':>9}{'int8 ms':>9}{'fp32/int8':>11}  compute+memory ms: fp32 | int8",
    ]
    for target in ORDERING_TARGETS:
        f, i = est[(target, "fp32")], est[(target, "int8")]
        ms_f, ms_i = f["estimated_device_latency_ms"], i["estimated_device_latency_ms"]
        lines.append(
            f"{target:<15}{f['clock_ghz']:>5.2f}{ms_f:>9.2f}{ms_i:>9.2f}{ms_f / ms_i:>10.2f}x  "
            f"{f['breakdown']['compute_ms']:.1f}+{f['breakdown']['memory_ms']:.1f} | "
            f"{i['breakdown']['compute_ms']:.1f}+{i['breakdown']['memory_ms']:.1f}  "
            f"({'±' if f['calibrated'] else 'uncalibrated ±'}{f['interval_pct']}%)"
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bench_estimate", help="cache folder")
    parser.add_argument("--published", type=Path, default=DATA / "published_latencies.csv")
    for flag in ("--no-extra", "--ordering", "--repeat", "--recount", "--write-records", "--refit"):
        parser.add_argument(flag, action="store_true")
    args = parser.parse_args()
    from edge_kit import progress

    progress.set_quiet(True)
    rows = read_rows(args.published)
    extra = [] if args.no_extra else read_rows(DATA / "extra_latencies.csv")
    done, checks = run_rows(rows, args.out, args.recount), run_rows(extra, args.out, args.recount)
    order = run_rows(ordering_rows(), args.out, args.recount) if args.ordering or args.write_records else []
    measured = {(r.key, r.precision): (r, a, rep) for r, a, rep in done + checks + order}
    text = records_json([record(r, a, rep) for r, a, rep in measured.values()])
    records_path = args.out / "calibration_records.json"
    records_path.write_text(text)
    if args.write_records:
        (DATA / "calibration_records.json").write_text(text)
    extra_csv = None if args.no_extra else DATA / "extra_latencies.csv"
    if args.refit:
        calibrate.main(
            ["--published", str(args.published), "--records", str(records_path), "--write"]
            + (["--extra", str(extra_csv)] if extra_csv else ["--extra", "/nonexistent"])
        )
    print(comparison(done, "End to end with the shipped parameters (published rows):"))
    if checks:
        print(comparison(checks, "End to end with the shipped parameters (extra rows, never fitted):"))
    print("A fresh fit on these measurements:")
    print(calibrate.table_text(calibrate.run(args.published, records_path, extra_csv)))
    if args.ordering:
        print(ordering(order))
    if args.repeat:
        print(repeat(rows[0], args.out))


if __name__ == "__main__":
    main()
