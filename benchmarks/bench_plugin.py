"""Cost of edgekit's instruction-counting QEMU plugin (a script, not a test).

Prints: plugin build times (cold with the Debian download, compile + self-test,
warm cache hit), the slowdown of counting versus plain qemu-aarch64 on a
compute-heavy static arm64 program (fp32 GEMM + int8 SDOT), and how well the
counts repeat run to run.

    .venv/bin/python benchmarks/bench_plugin.py [--runs 5] [--cpu cortex-a76] [--no-download]

Needs qemu-aarch64 (qemu-user), gcc and aarch64-linux-gnu-gcc.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge_kit.cache import cache_root
from edge_kit.emulation import debsrc
from edge_kit.emulation import plugin as plugin_module
from edge_kit.emulation.plugin import ensure_plugin, plugin_args, read_counts

PROGRAM = r"""
#include <arm_neon.h>
#include <stdio.h>
#include <unistd.h>
#include <string.h>
#define N 256
static float A[N][N], B[N][N], C[N][N];
static int8_t qa[1 << 16], qb[1 << 16];
static void mark(long code) { lseek(0x7EDC, code, SEEK_SET); }
static void gemm(void) {
    for (int i = 0; i < N; i++)
        for (int k = 0; k < N; k++)
            for (int j = 0; j < N; j++) C[i][j] += A[i][k] * B[k][j];
}
static int32_t qdot(void) {
    int32x4_t acc = vdupq_n_s32(0);
    for (int r = 0; r < 8; r++)
        for (int i = 0; i < (1 << 16); i += 16)
            acc = vdotq_s32(acc, vld1q_s8(qa + i), vld1q_s8(qb + i));
    return vaddvq_s32(acc);
}
static long collatz(long limit) {            /* branchy scalar code: 2-5 instructions per block */
    long steps = 0;
    for (long n = 1; n < limit; n++)
        for (long x = n; x != 1; steps++) x = (x & 1) ? 3 * x + 1 : x / 2;
    return steps;
}
int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "scalar") == 0) {
        long s = 0;
        for (int rep = 0; rep < 3; rep++) { mark(1); s += collatz(300000); mark(2); }
        printf("%ld\n", s);
        return 0;
    }
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) { A[i][j] = (i + j) % 7; B[i][j] = (i * j) % 5; }
    for (int i = 0; i < (1 << 16); i++) {
        qa[i] = (int8_t)(i % 61 - 30);
        qb[i] = (int8_t)(i % 37 - 18);
    }
    int32_t q = 0;
    for (int rep = 0; rep < 3; rep++) { mark(1); gemm(); q += qdot(); mark(2); }
    printf("%f %d\n", C[N - 1][N - 1], q);
    return 0;
}
"""


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def build_times(download: bool) -> dict[str, float]:
    """Seconds for ensure_plugin(): cold (+download), compile + self-test, warm hits."""
    ensure_plugin()  # make sure the real cache has a header
    header = next((cache_root() / "plugin" / "headers").glob("*/qemu-plugin.h"))
    out: dict[str, float] = {}
    saved = {k: os.environ.get(k) for k in ("EDGEKIT_CACHE_DIR", debsrc.HEADER_ENV)}
    try:
        with tempfile.TemporaryDirectory() as cold:
            os.environ["EDGEKIT_CACHE_DIR"] = cold
            if download:
                out["cold_with_download_s"] = timed(ensure_plugin)
            os.environ["EDGEKIT_CACHE_DIR"] = str(Path(cold) / "second")
            os.environ[debsrc.HEADER_ENV] = str(header)
            out["compile_and_selftest_s"] = timed(ensure_plugin)
            out["warm_repeat_call_s"] = min(timed(ensure_plugin) for _ in range(5))
            qemu_info_cache = plugin_module._identify
            qemu_info_cache.cache_clear()
            out["warm_first_call_s"] = timed(ensure_plugin)  # + qemu --version, dpkg-query
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return out


def run_once(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, timeout=1200)
    return time.perf_counter() - start


def overhead(runs: int, cpu: str, mode: str) -> dict[str, object]:
    """Median wall time with and without the plugin for one workload ("vector" or "scalar")."""
    plugin = ensure_plugin()
    with tempfile.TemporaryDirectory() as work:
        src, prog = Path(work) / "bench.c", Path(work) / "bench"
        src.write_text(PROGRAM)
        subprocess.run(
            ["aarch64-linux-gnu-gcc", "-static", "-O3", "-march=armv8.2-a+dotprod", str(src), "-o", str(prog)],
            check=True,
            timeout=300,
        )
        plain, counted, per_inference = [], [], []
        for i in range(runs):  # interleaved: drift hits both alike
            plain.append(run_once(["qemu-aarch64", "-cpu", cpu, str(prog), mode], Path(work)))
            out = Path(work) / f"counts-{i}.json"
            counted.append(
                run_once(["qemu-aarch64", "-cpu", cpu, *plugin_args(plugin, out), str(prog), mode], Path(work))
            )
            per_inference.append(read_counts(out).per_inference_total)
        last = read_counts(out)
    return {
        "workload": mode,
        "cpu": cpu,
        "runs": runs,
        "plain_median_s": statistics.median(plain),
        "counted_median_s": statistics.median(counted),
        "overhead_x": statistics.median(counted) / statistics.median(plain),
        "insns_per_inference": per_inference[0],
        "repeat_spread_pct": 100 * (max(per_inference) - min(per_inference)) / max(per_inference),
        "classes_per_inference": {k: v for k, v in last.per_inference.items() if v},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cpu", default="cortex-a76")
    parser.add_argument(
        "--no-download", action="store_true", help="skip the cold build that downloads Debian's qemu source"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = {
        "build": build_times(not args.no_download),
        "counting": [overhead(args.runs, args.cpu, mode) for mode in ("vector", "scalar")],
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    for key, value in figures["build"].items():
        print(f"build  {key:28s} {value:9.4f}")
    for run in figures["counting"]:
        for key, value in run.items():
            text = f"{value:.4f}" if isinstance(value, float) else str(value)
            print(f"count  {key:28s} {text}")


if __name__ == "__main__":
    main()
