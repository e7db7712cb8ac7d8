#!/usr/bin/env python3
"""edgekit's profiling harness: time one model in one runtime where it runs, write a JSON report.

The same files run on every backend (QEMU guest, container, host, device) under a
bare python3 with numpy and the runtime: stdlib + numpy only, no edge_kit imports.
Backends ship this folder as is: `harness_runtimes.py` (the runtime adapters) and
`et_runtime.py` (ExecuTorch through ctypes) sit next to this file.
Flags follow TFLite's benchmark_model:

    python3 edgekit_harness.py --model m.onnx --num_threads 4 --warmup_runs 1 \
        --num_runs 20 --max_secs 60 [--input x.npz] [--profile-ops] --out report.json

Timed region: one inference as an application makes it (set inputs, run, read outputs).
Around each of the first `--count-runs` timed inferences the harness calls mark(1) /
mark(2) (an lseek on fd 0x7EDC, never open), which edgekit's QEMU instruction-counting
plugin uses to count only inside inferences. Progress goes to stderr as
`edgekit-stage: ...` lines. Exit status: 0 ok, 2 bad arguments or inputs,
3 the model did not load, 4 an inference failed, 5 the runtime is missing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

HARNESS_VERSION = "1"
MARK_FD = 0x7EDC  # 32476: never an open descriptor
MARK_START, MARK_STOP = 1, 2

if TYPE_CHECKING:  # the type checker sees the package import only (both bind the same module)
    from .harness_runtimes import EXIT_LOAD, EXIT_RUN, EXIT_USAGE, HarnessError, detect_runtime, make_runtime
else:
    try:  # imported as edge_kit.harness.edgekit_harness (tests, host backend)
        from .harness_runtimes import EXIT_LOAD, EXIT_RUN, EXIT_USAGE, HarnessError, detect_runtime, make_runtime
    except ImportError:  # run as a script: the sibling module is on sys.path[0]
        from harness_runtimes import EXIT_LOAD, EXIT_RUN, EXIT_USAGE, HarnessError, detect_runtime, make_runtime


def mark(code: int) -> None:
    """Signal the instruction-counting plugin: 1 = a timed inference starts, 2 = it ended."""
    try:
        os.lseek(MARK_FD, code, 0)
    except OSError:
        pass


def stage(text: str) -> None:
    print(f"edgekit-stage: {text}", file=sys.stderr, flush=True)


def status_kb() -> dict[str, int]:
    """VmRSS / VmHWM / VmSize of this process in kB (under QEMU: the emulator process's)."""
    out: dict[str, int] = {}
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM", "VmSize", "VmPeak"):
                    out[key] = int(value.split()[0])
    except (OSError, ValueError, IndexError):
        pass
    return out


# ----------------------------------------------------------------------------- measuring


def latency_stats(lat_ms: list[float]) -> dict[str, float]:
    a = np.asarray(lat_ms, dtype=np.float64)
    pct = np.percentile(a, [50, 90, 99])
    return {
        "count": int(a.size),
        "mean_ms": float(a.mean()),
        "std_ms": float(a.std()),
        "min_ms": float(a.min()),
        "max_ms": float(a.max()),
        "p50_ms": float(pct[0]),
        "p90_ms": float(pct[1]),
        "p99_ms": float(pct[2]),
    }


def timed_runs(
    fn: Callable[[], Any], num_runs: int, max_secs: float, count_runs: int
) -> tuple[list[float], list[float], str]:
    """Wall and calling-thread CPU latencies (ms) of up to `num_runs` inferences, stopping
    after `max_secs` (0 = no limit). Thread CPU time ignores time the host spent on other
    processes, so it is the steadier figure on a busy host (with --num_threads 1 it covers
    the whole inference; with more it leaves out the worker threads)."""
    clock, cpu = time.perf_counter_ns, time.thread_time_ns
    deadline = clock() + int(max_secs * 1e9) if max_secs > 0 else None
    lat: list[float] = []
    cpu_lat: list[float] = []
    for i in range(max(num_runs, 1)):
        counted = i < count_runs
        if counted:
            mark(MARK_START)
        t0, c0 = clock(), cpu()
        fn()
        c1, t1 = cpu(), clock()
        if counted:
            mark(MARK_STOP)
        lat.append((t1 - t0) / 1e6)
        cpu_lat.append((c1 - c0) / 1e6)
        if deadline is not None and t1 >= deadline and i + 1 < num_runs:
            return lat, cpu_lat, "max_secs"
    return lat, cpu_lat, "num_runs"


def make_inputs(specs: list[dict[str, Any]], npz: str | None, seed: int) -> list[Any]:
    """Arrays for the inputs: from an .npz (by name, else in order) or random with `seed`."""
    if npz:
        return _inputs_from_npz(specs, npz)
    rng = np.random.default_rng(seed)
    arrays = []
    for s in specs:
        shape = [d if isinstance(d, int) and d > 0 else 1 for d in s["shape"]]
        dt = np.dtype(s["dtype"])
        if dt.kind == "f":
            arrays.append(rng.standard_normal(shape).astype(dt))
        elif dt.kind == "b":
            arrays.append(rng.integers(0, 2, shape).astype(dt))
        elif dt.kind in "iu":  # 8-bit: the full range (quantized data); wider: small ids
            lo, hi = (int(np.iinfo(dt).min), int(np.iinfo(dt).max) + 1) if dt.itemsize == 1 else (0, 10)
            arrays.append(rng.integers(lo, hi, shape).astype(dt))
        else:
            raise HarnessError(f"cannot make random data for input {s['name']} of type {dt}", EXIT_USAGE)
    return arrays


def _inputs_from_npz(specs: list[dict[str, Any]], npz: str) -> list[Any]:
    """Arrays by input name, else `x` (single input), else in order; an [N, ...] data set
    (e.g. an eval file) contributes its first sample(s)."""
    data = np.load(npz, allow_pickle=False)
    keys = list(data.keys())
    names = [s["name"] for s in specs]
    if len(specs) == 1 and names[0] not in keys and "x" in keys:
        keys = ["x"]
    if not set(names) <= set(keys) and len(keys) < len(specs):
        raise HarnessError(f"{npz} holds {keys}; the model takes {names}", EXIT_USAGE)
    arrays = []
    for i, spec in enumerate(specs):
        array = data[spec["name"]] if spec["name"] in keys else data[keys[i]]
        declared = [d if isinstance(d, int) and d > 0 else None for d in spec["shape"]]  # None: any size
        if not _fits(array.shape, declared) and len(array.shape) == len(declared) + 1 and len(array):
            array = array[0]  # an [N, ...] data set: its first sample
        if not _fits(array.shape, declared) and declared[:1] and declared[0] and len(array) >= declared[0]:
            array = array[: declared[0]]
        if not _fits(array.shape, declared):
            shown = [d if d is not None else "?" for d in declared]
            raise HarnessError(
                f"{npz}: array for {spec['name']} has shape {list(array.shape)}, the model takes {shown}", EXIT_USAGE
            )
        arrays.append(np.asarray(array.astype(spec["dtype"], copy=False), order="C"))  # ascontiguousarray makes 0-d 1-d
    return arrays


def _fits(shape: Any, declared: list[Any]) -> bool:
    """Whether an array shape fits a declared one whose None dims take any size."""
    return len(shape) == len(declared) and all(d is None or d == s for s, d in zip(shape, declared))


def machine_info() -> dict[str, Any]:
    """The machine as the program sees it (under QEMU: the emulated CPU's files)."""
    parts: list[str] = []
    implementers: list[str] = []
    features: list[str] = []
    processors = 0
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                key, _, value = (x.strip() for x in line.partition(":"))
                if key == "processor":
                    processors += 1
                elif key == "CPU part":
                    parts.append(value)
                elif key == "CPU implementer":
                    implementers.append(value)
                elif key in ("Features", "flags") and not features:
                    features = value.split()
    except OSError:
        pass
    uname = os.uname()  # (os, not platform: importing less keeps the emulated start short)
    return {
        "machine": uname.machine,
        "system": uname.sysname,
        "release": uname.release,
        "python": sys.version.split()[0],
        "cpu_count": os.cpu_count(),
        "affinity_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu": {
            "processors": processors,
            "parts": sorted(set(parts)),
            "implementers": sorted(set(implementers)),
            "features": features,
        },
    }


def output_summary(specs: list[dict[str, Any]], outputs: list[Any]) -> list[dict[str, Any]]:
    rows = []
    for spec, out in zip(specs, outputs):
        a = np.asarray(out)
        f = a.astype(np.float64) if a.size else np.zeros(1)
        rows.append(
            {
                **spec,
                "shape": list(a.shape),
                "dtype": a.dtype.name,
                "mean": float(f.mean()),
                "std": float(f.std()),
                "min": float(f.min()),
                "max": float(f.max()),
                "all_finite": bool(np.isfinite(f).all()),
                # the exact bytes: two backends (or a device) agree bitwise when these match
                "sha256": hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest(),
            }
        )
    return rows


# ----------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="edgekit_harness", description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True, help="model file (.onnx, .tflite, .pte)")
    p.add_argument("--runtime", default="auto", choices=("auto", "onnxruntime", "litert", "executorch"))
    p.add_argument("--num_threads", type=int, default=1)
    p.add_argument("--warmup_runs", type=int, default=1)
    p.add_argument("--num_runs", type=int, default=10)
    p.add_argument("--max_secs", type=float, default=0.0, help="stop the timed runs after this (0: never)")
    p.add_argument(
        "--count-runs",
        "--count_runs",
        dest="count_runs",
        type=int,
        default=None,
        help="mark only the first N timed runs for instruction counting (default: all)",
    )
    p.add_argument("--input", help=".npz of real inputs (by input name, else in order)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs")
    p.add_argument("--profile-ops", "--profile_ops", dest="profile_ops", action="store_true")
    p.add_argument("--profile-runs", dest="profile_runs", type=int, default=3)
    p.add_argument("--et-lib", dest="et_lib", help="libedgekit_et.so (default: $EDGEKIT_ET_LIB)")
    p.add_argument("--save-outputs", dest="save_outputs", help="write the outputs to this .npz")
    p.add_argument("--generate", action="store_true", help="a KV-cache decoder: time prefill and decode")
    p.add_argument("--prompt-len", dest="prompt_len", type=int, default=32, help="--generate: prompt tokens")
    p.add_argument("--new-tokens", dest="new_tokens", type=int, default=32, help="--generate: tokens to generate")
    p.add_argument("--prompt", help="--generate: comma-separated prompt token ids (default: random)")
    p.add_argument(
        "--count-phase",
        dest="count_phase",
        choices=("prefill", "decode"),
        help="--generate: mark this phase (the prefill, or each decode step) for instruction counting",
    )
    p.add_argument("--out", help="report path (default: stdout)")
    args = p.parse_args(argv)
    if args.num_threads < 1 or args.num_runs < 1 or args.warmup_runs < 0 or args.profile_runs < 1:
        p.error("--num_threads, --num_runs and --profile-runs must be >= 1, --warmup_runs >= 0")
    args.count_runs = args.num_runs if args.count_runs is None else max(args.count_runs, 0)
    return args


def _guarded(what: str, code: int, fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except HarnessError:
        raise
    except Exception as exc:  # noqa: BLE001 - the runtime's own exception types vary
        text = " ".join(str(exc).split())[:400]
        raise HarnessError(f"{what}: {type(exc).__name__}: {text}", code) from None


def _timed(what: str, code: int, fn: Callable[[], Any]) -> tuple[Any, float]:
    """(result, milliseconds) of one guarded call."""
    t0 = time.perf_counter()
    result = _guarded(what, code, fn)
    return result, (time.perf_counter() - t0) * 1e3


def _inferences(args: argparse.Namespace, fn: Callable[[], Any], base: str) -> dict[str, Any]:
    """First inference, warm-up, then the timed (and marked) runs."""
    stage(f"running {base} (first inference)")
    outputs, first_ms = _timed(f"the first inference of {base} failed", EXIT_RUN, fn)
    stage(f"running {base} (warm-up and timed runs)")
    for _ in range(args.warmup_runs):
        _guarded(f"a warm-up inference of {base} failed", EXIT_RUN, fn)
    lat, cpu_lat, stopped = _guarded(
        f"a timed inference of {base} failed",
        EXIT_RUN,
        lambda: timed_runs(fn, args.num_runs, args.max_secs, args.count_runs),
    )
    return {
        "outputs": outputs,
        "timing": {
            "first_inference_ms": first_ms,
            "warmup_runs": args.warmup_runs,
            "runs": latency_stats(lat),
            "latencies_ms": lat,
            "thread_cpu": latency_stats(cpu_lat),
            "thread_cpu_ms": cpu_lat,
            "stopped_by": stopped,
            "counted_runs": min(args.count_runs, len(lat)),
            "max_secs": args.max_secs,
            "timed_region": "set inputs + run + read outputs",
        },
    }


def _memory(rss: dict[str, dict[str, int]], static: dict[str, Any]) -> dict[str, Any]:
    peak, base = rss["timed"].get("VmHWM", 0), rss["runtime"].get("VmRSS", 0)
    return {
        "rss_start_kb": rss["start"].get("VmRSS"),
        "rss_runtime_kb": base,
        "rss_loaded_kb": rss["loaded"].get("VmRSS"),
        "peak_rss_kb": peak,
        "peak_over_runtime_kb": peak - base,
        "peak_rss_with_profiling_kb": rss["end"].get("VmHWM"),
        "runtime_static": static,
        "note": "peak = VmHWM after the timed runs; under QEMU the RSS figures are the emulator "
        "process's (guest memory plus QEMU's own): compare increases, not absolutes",
    }


def profile(args: argparse.Namespace) -> dict[str, Any]:
    """Load, warm up, time and (optionally) profile the model; return the report."""
    if not os.path.isfile(args.model):
        raise HarnessError(f"no such model file: {args.model}", EXIT_USAGE)
    base = os.path.basename(args.model)
    name = detect_runtime(args.model) if args.runtime == "auto" else args.runtime
    rss = {"start": status_kb()}
    stage(f"importing {name}")
    rt = make_runtime(name, args.et_lib)
    rss["runtime"] = status_kb()
    stage(f"loading {base}")
    _, load_ms = _timed(f"cannot load {base}", EXIT_LOAD, lambda: rt.load(args.model, args.num_threads))
    rss["loaded"] = status_kb()
    in_specs = _guarded("cannot read the model's inputs", EXIT_LOAD, rt.input_specs)
    inputs = _guarded("cannot make the inputs", EXIT_USAGE, lambda: make_inputs(in_specs, args.input, args.seed))
    ran = _inferences(args, _guarded("cannot bind the inputs", EXIT_RUN, lambda: rt.bind(inputs)), base)
    rss["timed"] = status_kb()
    ops = None
    if args.profile_ops:
        stage(f"profiling the operators of {base}")
        ops = _guarded("operator profiling failed", EXIT_RUN, lambda: rt.profile_ops(inputs, args.profile_runs))
    if args.save_outputs:
        np.savez(args.save_outputs, *ran["outputs"])
    rss["end"] = status_kb()
    return {
        "runtime": {"name": rt.name, "version": rt.version, "num_threads": args.num_threads},
        "model": {"path": os.path.abspath(args.model), "size_bytes": os.path.getsize(args.model)},
        "inputs": [
            {
                **s,
                "shape": list(np.shape(a)),
                **({"declared_shape": s["shape"]} if list(s["shape"]) != list(np.shape(a)) else {}),
                "source": "npz" if args.input else f"random(seed={args.seed})",
            }
            for s, a in zip(in_specs, inputs)
        ],  # the shape each input ran at (a dynamic dim at the size it was given; the declared one beside it)
        "outputs": output_summary(_guarded("cannot read the outputs", EXIT_RUN, rt.output_specs), ran["outputs"]),
        "timing": {"load_ms": load_ms, **ran["timing"]},
        "memory": _memory(rss, _guarded("cannot read memory figures", EXIT_RUN, rt.static_memory)),
        "ops": ops,
        "machine": machine_info(),
    }


def generate(args: argparse.Namespace) -> dict[str, Any]:
    """--generate: the generation loop of harness_generate.py (prefill + greedy decode)."""
    if TYPE_CHECKING:  # the type checker sees the package import only (both bind the same module)
        from .harness_generate import DecoderLoadError, GenerationError, harness_generate
    else:
        try:
            from .harness_generate import DecoderLoadError, GenerationError, harness_generate
        except ImportError:
            from harness_generate import DecoderLoadError, GenerationError, harness_generate
    if not os.path.isfile(args.model):
        raise HarnessError(f"no such model file: {args.model}", EXIT_USAGE)
    if args.prompt_len < 1 or args.new_tokens < 1:
        raise HarnessError("--prompt-len and --new-tokens must be >= 1", EXIT_USAGE)
    try:
        report = harness_generate(args, stage, status_kb, mark)
    except GenerationError as exc:
        raise HarnessError(str(exc), EXIT_USAGE) from None
    except DecoderLoadError as exc:
        raise HarnessError(str(exc), EXIT_LOAD) from None
    except Exception as exc:  # noqa: BLE001 - the runtime's own exception types vary
        text = " ".join(str(exc).split())[:400]
        raise HarnessError(f"generation failed: {type(exc).__name__}: {text}", EXIT_RUN) from None
    return {**report, "machine": machine_info()}


def write_report(report: dict[str, Any], out: str | None) -> None:
    text = json.dumps(report, indent=1, default=str)
    if not out:
        print(text)
        return
    tmp = f"{out}.tmp-{os.getpid()}"  # then renamed: a reader never sees half a report
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, out)


def main(argv: list[str] | None = None) -> int:
    start = time.perf_counter()
    args = parse_args(argv)
    head = {
        "schema": "edgekit-harness-report/1",
        "harness_version": HARNESS_VERSION,
        "emulator": os.environ.get("EDGEKIT_EMULATOR"),
        "target": os.environ.get("EDGEKIT_TARGET"),
        "argv": sys.argv[1:] if argv is None else argv,
    }
    try:
        report = {"ok": True, **head, **(generate(args) if args.generate else profile(args))}
        code = 0
    except HarnessError as exc:
        print(f"edgekit-harness: error: {exc}", file=sys.stderr, flush=True)
        report, code = (
            {"ok": False, **head, "error": {"message": str(exc), "exit_code": exc.code}, "machine": machine_info()},
            exc.code,
        )
    except Exception as exc:  # noqa: BLE001 - a bug here: keep the traceback, still write a report
        traceback.print_exc()
        report, code = {"ok": False, **head, "error": {"message": f"internal error: {exc!r}", "exit_code": 1}}, 1
    report["wall_s"] = time.perf_counter() - start
    write_report(report, args.out)
    return code


if __name__ == "__main__":
    sys.exit(main())
