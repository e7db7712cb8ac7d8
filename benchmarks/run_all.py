"""`make bench`: run every benchmark script in turn and print their figures (not tests).

    .venv/bin/python benchmarks/run_all.py [--quick]

--quick skips the two long ones (bench_quantization.py with MobileNetV2, bench_bench.py).
Each script's output streams as it runs; the exit status is the first failing script's.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = (
    ("bench_harness.py", [], False),
    ("bench_plugin.py", ["--no-download"], False),
    ("bench_estimate.py", ["--ordering", "--repeat"], False),
    ("diag_mobilenet_ptq.py", [], False),
    ("bench_quantization.py", ["--mobilenet"], True),
    ("bench_bench.py", [], True),
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the long scripts")
    args = parser.parse_args()
    status = 0
    for script, extra, long_running in SCRIPTS:
        if args.quick and long_running:
            continue
        print(f"\n=== {script} {' '.join(extra)}", flush=True)
        start = time.perf_counter()
        code = subprocess.call([sys.executable, str(HERE / script), *extra], cwd=HERE.parent)
        print(f"=== {script}: exit {code} after {time.perf_counter() - start:.0f} s", flush=True)
        status = status or code
    return status


if __name__ == "__main__":
    sys.exit(main())
