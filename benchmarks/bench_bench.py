"""How long `edgekit bench` takes on the issue's two workloads (not a test).

    .venv/bin/python benchmarks/bench_bench.py [--only mnist|mobilenet_v2] [--target raspi] [--out DIR]

1. the MNIST sample model, every cell: the target's preferred formats x fp32, fp16,
   int8-dynamic, int8 (held-out data as --eval, its calibration file for int8);
2. MobileNetV2 with real ImageNet weights, 3 formats x 3 precisions (fp32, int8-dynamic,
   int8), the bundled photos as --eval (agreement with fp32) and their other views as
   calibration (the same data `bench_quantization.py --mobilenet` uses).

Each run is the real CLI (`edgekit bench ... --json --force`) with the default --jobs (the
machine's cores); the script prints the wall time, the goal (10 minutes) and each cell's
status, emulated latency and estimated device latency from the leaderboard.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_quantization import ROOT, mobilenet

sys.path.insert(0, str(ROOT))  # sample_models

GOAL_S = 600.0


def run_bench(name: str, model: str, eval_npz: str, calibration: str, precisions: str, out: Path, target: str) -> dict:
    """One real `edgekit bench` run; returns its JSON document with the measured wall time."""
    cmd = [
        sys.executable,
        "-m",
        "edge_kit",
        "bench",
        model,
        "--target",
        target,
        "--quantize",
        precisions,
        "--eval",
        eval_npz,
        "--calibration",
        calibration,
        "-o",
        str(out / name),
        "--force",
        "--json",
    ]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True, timeout=3 * GOAL_S)
    wall = time.perf_counter() - start
    if not proc.stdout.strip():
        raise SystemExit(f"{name}: edgekit bench exited {proc.returncode} with no report")
    doc = json.loads(proc.stdout)
    doc["_wall_s"], doc["_exit"] = wall, proc.returncode
    return doc


def _ms(value: float | None) -> str:
    return f"{value:8.2f}" if value is not None else "       -"


def show(name: str, doc: dict) -> None:
    wall, rows = doc["_wall_s"], doc.get("rows", [])
    verdict = "within" if wall <= GOAL_S else "OVER"
    print(
        f"\n{name}: {len(rows)} cells in {wall:.0f} s on {os.cpu_count()} cores "
        f"({verdict} the {GOAL_S / 60:.0f}-minute goal), exit {doc['_exit']}, counts {doc.get('counts')}"
    )
    for row in rows:
        drop = (row.get("accuracy") or {}).get("drop")
        print(
            f"  {row['format']:>10} {row['precision']:>12}  {row['status']:>7}  "
            f"emulated p50 {_ms(row.get('emulated_p50_ms'))} ms  estimated {_ms(row.get('estimated_ms'))} ms  "
            f"drop {drop if drop is None else round(drop, 2)}  {row.get('reason') or ''}"
        )
    print(f"  {doc.get('recommendation')}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("mnist", "mobilenet_v2"))
    parser.add_argument("--target", default="raspi")
    parser.add_argument("--out", type=Path, help="keep the bench folders here (default: a temporary folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="edgekit-bench-bench-") as scratch:
        out = args.out or Path(scratch)
        out.mkdir(parents=True, exist_ok=True)
        samples = ROOT / "sample_models"
        if args.only in (None, "mnist"):
            show(
                "mnist",
                run_bench(
                    "mnist",
                    str(samples / "mnist_cnn.pt2"),
                    str(samples / "mnist_eval.npz"),
                    str(samples / "mnist_calib.npz"),
                    "fp32,fp16,int8-dynamic,int8",
                    out,
                    args.target,
                ),
            )
        if args.only in (None, "mobilenet_v2"):
            sample = mobilenet(out / "mobilenet")
            show(
                "mobilenet_v2",
                run_bench(
                    "mobilenet_v2",
                    sample.model,
                    sample.eval,
                    sample.calibration,
                    "fp32,int8-dynamic,int8",
                    out,
                    args.target,
                ),
            )


if __name__ == "__main__":
    main()
