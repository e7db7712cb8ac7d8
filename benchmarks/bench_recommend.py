"""What `edgekit bench` recommends by itself, and what it measured to say so (not a test).

    .venv/bin/python benchmarks/bench_recommend.py [--only mobilenet_v2|mnist] [--targets host,raspi4]
        [--crops 400] [--search-time 900] [--out DIR] [--force]

1. MobileNetV2 with its ImageNet weights (`sample_models/export_mobilenet.py`), judged on N
   random crops of the bundled photos (no labels: top-1 agreement with fp32 against
   `--min-agreement`, default 90), calibrated on the photos' 44 other views (never an evaluated
   input); on `host` with 1 thread (native measurements, beside torch eager in the same run) and
   on `raspi4` (emulated: the device latency is the instruction-count estimate).
2. The MNIST sample (labels: top-1 accuracy, 1-point budget) on `host`, 1 thread.

Each run is the real CLI (`edgekit bench ... --json`); cells are cached in `--out` between runs
(`--force` to redo them). Prints per run: the recommended variant and its speedup over the
source model run the usual way, its agreement or accuracy, int8 against fp32 per format (and
why when slower), and the best int8 variant found with every attempt the search made.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))

from bench_quantization import mobilenet  # noqa: E402

from edge_kit.benchmark.leaderboard import quality_of, variant_text  # noqa: E402
from edge_kit.benchmark.report import int8_lines  # noqa: E402

SAMPLES = ROOT / "sample_models"
PUBLISHED_PI4_MS = 17.0  # MobileNetV2 XNNPACK int8 on a Raspberry Pi 4 (reference/published_latencies.csv)


def run_bench(model: str, evalset: str, calibration: str, target: str, out: Path, args: argparse.Namespace,
              precisions: str, formats: str | None = None) -> tuple[dict[str, Any], float]:  # fmt: skip
    """One real `edgekit bench` run; its leaderboard and wall time. Host: 1 thread, `--num-runs`
    runs; an emulated target: its own cores (the published Pi 4 figures are 4-thread) and 3 runs
    (each emulated run of MobileNetV2 takes seconds; the device figure is the estimate)."""
    native = target == "host"
    threads = ["--num_threads", "1"] if native else []
    runs = str(args.num_runs if native else 3)
    cmd = [sys.executable, "-m", "edge_kit", "bench", model, "--target", target, "--quantize", precisions,
           "--eval", evalset, "--calibration", calibration, *threads, "--num_runs", runs,
           "--search-time", str(args.search_time), "-o", str(out), "--json"]  # fmt: skip
    cmd += (["--formats", formats] if formats else []) + (["--force"] if args.force else [])
    print(f"$ edgekit {' '.join(cmd[3:])}", flush=True)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True, timeout=4 * 3600)
    wall = time.perf_counter() - start
    if proc.returncode != 0 or not proc.stdout.strip():
        raise SystemExit(f"edgekit bench exited {proc.returncode} (log: {out})")
    return json.loads(proc.stdout), wall


def _quality(q: dict[str, Any] | None) -> str:
    if not q:
        return "quality not measured"
    low, high = q["interval95"]
    name = q["metric"].removeprefix("top1_")
    text = f"{name} {q['value']:.2f}% (95% CI {low:.1f}-{high:.1f}, n={q['samples']})"
    return text + (f", drop {q['drop']:+.2f} points" if q.get("drop") is not None else "")


def _latency(r: dict[str, Any]) -> str:
    ms = r.get("device_p50_ms")
    return f"{ms:.2f} ms {r.get('device_latency_kind') or ''}".strip() if ms else "no latency"


def _attempt(a: dict[str, Any]) -> str:
    kept = f" + {len(a['keep_float'])} layer(s) in float" if a.get("keep_float") else ""
    kept += " (mixed-precision search)" if a.get("mixed_precision") else ""
    mark = " (kept)" if a.get("chosen") else ""
    tail = f": {a['reason']}" if a.get("reason") else ""
    return f"      {a['recipe']}{kept}{mark}: {_quality(quality_of(a))}, {_latency(a)}, {a['status']}{tail}"


def report(name: str, board: dict[str, Any], wall: float) -> None:
    rows = {r["cell"]: r for r in board["rows"]}
    winner = rows.get(board["recommended"] or "")
    print(f"\n== {name}: {board['target']['name']}, {len(rows)} cells, {wall / 60:.1f} min")
    print(f"  judged: {board['criterion']['text']}")
    print(f"  ranked on: {board['ranked_on']}")
    for warning in board.get("warnings") or []:
        print(f"  warning: {warning}")
    if winner is None:
        print(f"  recommended: none — {board['recommendation']}")
    else:
        print(f"  recommended: {winner['cell']} = {variant_text(winner)}, {_latency(winner)}")
        print(f"    {_quality(quality_of(winner))}")
        base = board.get("baseline") or {}
        if base.get("measured"):
            mine = base["subjects"][winner["cell"]]["p50_ms"]
            print(
                f"    {base['speedups'][winner['cell']]:.2f}x faster than {base['runner']} "
                f"({mine:.2f} vs {base['p50_ms']:.2f} ms p50, {base['threads']} thread, same run)"
            )
        else:
            print(f"    no speedup over the source framework: {base.get('reason')}")
        est = winner.get("estimated_ms")
        if est and name.startswith("mobilenet") and board["target"]["name"] == "raspi4":
            verdict = "at or below" if est <= PUBLISHED_PI4_MS else "above"
            print(f"    estimate {est:.2f} ms: {verdict} the published Pi 4 figure ({PUBLISHED_PI4_MS:g} ms)")
    for line in int8_lines(board):
        print(f"  int8 vs fp32, {line}")
    for r in board["rows"]:
        if r.get("slower_than_fp32") and r["precision"] != "int8":
            print(f"  {r['cell']}: {r['slower_than_fp32']}")
    int8 = [r for r in board["rows"] if r["precision"] == "int8" and r["status"] != "failed"]
    best = next((r for r in int8 if r["status"] == "ok"), int8[0] if int8 else None)
    if best:
        print(f"  best int8: {best['cell']} ({best['status']}) = {variant_text(best)}, {_latency(best)}")
        print(f"    {_quality(quality_of(best))}")
    for r in int8:
        search = r.get("search") or {}
        what = "searched" if search.get("ran") else f"not searched ({search.get('skipped') or 'within budget'})"
        print(f"    {r['cell']}: {what}" + (f", stopped by {search['stopped_by']}" if search.get("stopped_by") else ""))
        for a in r.get("attempts") or []:
            print(_attempt(a))
    for r in board["rows"]:
        if r["status"] == "failed":
            print(f"  failed: {r['cell']}: {r['reason']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("mobilenet_v2", "mnist"))
    parser.add_argument("--targets", default="host,raspi4", help="MobileNetV2's targets (MNIST: host)")
    parser.add_argument("--crops", type=int, default=400, help="MobileNetV2 eval crops")
    parser.add_argument("--search-time", type=float, default=900.0)
    parser.add_argument("--num-runs", type=int, default=30)
    parser.add_argument("--out", type=Path, default=None, help="keep the bench folders here (default: temporary)")
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="edgekit-recommend-"))
    print(f"bench folders: {out}")
    if args.only in (None, "mnist"):
        board, wall = run_bench(
            str(SAMPLES / "mnist_cnn.pt2"), str(SAMPLES / "mnist_eval.npz"), str(SAMPLES / "mnist_calib.npz"),
            "host", out / "mnist-host", args, "fp32,fp16,int8-dynamic,int8",
        )  # fmt: skip
        report("mnist", board, wall)
    if args.only in (None, "mobilenet_v2"):
        data = out / "mobilenet_data"
        if not (data / "mobilenet_v2_crops.npz").exists():
            data.mkdir(parents=True, exist_ok=True)
            mobilenet(data, crops=args.crops)
        model, crops = str(data / "mobilenet_v2.pt2"), str(data / "mobilenet_v2_crops.npz")
        calib = str(data / "mobilenet_v2_calib.npz")
        for target in args.targets.split(","):
            precisions = "fp32,fp16,int8-dynamic,int8" if target == "host" else "fp32,int8"
            board, wall = run_bench(model, crops, calib, target, out / f"mobilenet_v2-{target}", args, precisions)
            report(f"mobilenet_v2 ({args.crops} crops)", board, wall)


if __name__ == "__main__":
    main()
