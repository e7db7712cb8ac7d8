"""The user's baseline, measured beside the variants: the source model run the usual way
(torch eager, Keras, JAX jit, onnxruntime for an ONNX source) and every variant the bench
kept, in one process on this machine with the same thread count, interleaved.

Interleaving is what makes the ratios honest on a shared machine: each round runs every
subject once, in a rotating order, so a burst of load from elsewhere slows all of them
alike instead of whichever happened to be measured then. Wall time is what is reported;
calling-thread CPU time is kept beside it (with one thread the steadier figure on a busy host).

Runs in its own process (`edgekit bench-session`, started by the bench with the thread
settings in its environment: OpenMP, TensorFlow and XLA read them when they start).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

Call = Callable[[], Any]


def thread_env(threads: int) -> dict[str, str]:
    """Environment that holds torch, TensorFlow, JAX (XLA) and BLAS to `threads` threads."""
    n = str(threads)
    return {
        "OMP_NUM_THREADS": n,
        "MKL_NUM_THREADS": n,
        "OPENBLAS_NUM_THREADS": n,
        "TF_NUM_INTRAOP_THREADS": n,
        "TF_NUM_INTEROP_THREADS": "1",
        "XLA_FLAGS": f"--xla_cpu_multi_thread_eigen={'false' if threads == 1 else 'true'} "
        f"intra_op_parallelism_threads={n}",
    }


def runner_label(framework: str, kind: str) -> str:
    """How the source model is usually run, in words."""
    labels = {
        ("torch", "exported_program"): "torch eager (the ExportedProgram's module())",
        ("torch", "torchscript"): "TorchScript (torch.jit)",
        ("tensorflow", "saved_model"): "TensorFlow (the SavedModel's serving signature)",
        ("tensorflow", "keras"): "Keras (model(x))",
        ("tensorflow", "keras_h5"): "Keras (model(x))",
        ("onnx", "onnx"): "onnxruntime (the source .onnx)",
        ("tflite", "tflite"): "LiteRT (the source .tflite)",
    }
    generic = {"torch": "torch eager", "tensorflow": "TensorFlow eager", "jax": "JAX jit"}
    return labels.get((framework, kind)) or generic.get(framework, framework)


def _runtime_call(path: Path, threads: int) -> Call:
    """One inference of an artifact in its runtime (the profiling harness's own adapters), bound to inputs."""
    from edge_kit.harness.edgekit_harness import make_inputs
    from edge_kit.harness.harness_runtimes import make_runtime
    from edge_kit.registry import format_of_file

    fmt = format_of_file(path)
    if fmt is None or fmt.harness_runtime is None:
        raise ValueError(f"no runtime adapter for {path.name}")
    et_lib = None
    if fmt.needs_et_shim:
        from edge_kit.emulation.etruntime import SHIM_NAME, ensure_et_runtime, host_arch

        et_lib = str(ensure_et_runtime(host_arch()) / SHIM_NAME)
    runtime = make_runtime(fmt.harness_runtime, et_lib)
    runtime.load(str(path), threads)
    return runtime.bind(make_inputs(runtime.input_specs(), None, seed=0))  # type: ignore[no-any-return]


def source_call(source: Any, threads: int) -> Call:
    """One inference of the source model the usual way, on `threads` threads."""
    from edge_kit.registry import format_of_file
    from edge_kit.signature import random_inputs

    fmt = format_of_file(source.path) if source.path is not None and Path(source.path).is_file() else None
    if fmt is not None and fmt.harness_runtime is not None:  # the source is itself an artifact format
        return _runtime_call(Path(source.path), threads)
    if source.framework == "torch":
        import torch

        torch.set_num_threads(threads)
    arrays = random_inputs(source.inputs, 1, seed=0)[0]
    return lambda: source.run(arrays)


def _stats(values: list[float]) -> dict[str, float]:
    a = np.asarray(values, dtype=np.float64)
    p10, p50, p90 = np.percentile(a, [10, 50, 90])
    return {"p50_ms": float(p50), "p10_ms": float(p10), "p90_ms": float(p90), "mean_ms": float(a.mean())}


def interleave(calls: dict[str, Call], rounds: int, warmup: int = 2, max_secs: float = 120.0) -> dict[str, Any]:
    """Per subject: wall and thread-CPU latency stats over `rounds` interleaved rounds (fewer, at least
    5, when `max_secs` runs out)."""
    names = list(calls)
    for name in names:
        for _ in range(warmup):
            calls[name]()
    wall: dict[str, list[float]] = {n: [] for n in names}
    cpu: dict[str, list[float]] = {n: [] for n in names}
    start = time.perf_counter()
    done = 0
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            t0, c0 = time.perf_counter_ns(), time.thread_time_ns()
            calls[name]()
            c1, t1 = time.thread_time_ns(), time.perf_counter_ns()
            wall[name].append((t1 - t0) / 1e6)
            cpu[name].append((c1 - c0) / 1e6)
        done = r + 1
        if done >= 5 and time.perf_counter() - start > max_secs:
            break
    return {
        "rounds": done,
        "subjects": {
            n: {**_stats(wall[n]), "cpu_p50_ms": _stats(cpu[n])["p50_ms"], "runs": len(wall[n])} for n in names
        },
    }


def measure(source: Any, artifacts: dict[str, Path], threads: int, rounds: int) -> dict[str, Any]:
    """The source the usual way ('baseline') and each artifact, interleaved; speedups over the baseline."""
    calls = {"baseline": source_call(source, threads)}
    failed: dict[str, str] = {}
    for name, path in artifacts.items():
        try:
            calls[name] = _runtime_call(path, threads)
        except Exception as exc:  # noqa: BLE001 - a runtime refusing one artifact must not stop the others
            failed[name] = " ".join(f"{type(exc).__name__}: {exc}".split())[:200]
    result = interleave(calls, rounds)
    base = result["subjects"].pop("baseline")
    kind = str(getattr(source.kind, "value", source.kind))
    return {
        "runner": runner_label(source.framework, kind),
        "threads": threads,
        "machine": os.uname().machine,
        "rounds": result["rounds"],
        **base,
        "subjects": result["subjects"],
        "speedups": {n: round(base["p50_ms"] / s["p50_ms"], 2) for n, s in result["subjects"].items()},
        "failed": failed,
    }


def run_session(req: Any, threads: int, artifacts: dict[str, Path]) -> dict[str, Any]:
    """`edgekit bench-session` in a subprocess with the thread settings; its JSON, or why it failed."""
    import json

    from edge_kit import progress
    from edge_kit.benchmark.cells import _edgekit, error_line

    args = ["bench-session", str(Path(req.model).resolve()), *req.export_args, "--threads", str(threads)]
    args += ["--rounds", str(max(30, req.num_runs))]
    for name, path in artifacts.items():
        args += ["--artifact", f"{name}={path}"]
    log = Path(req.output) / "baseline.log"
    progress.log(f"bench: measuring the source model beside {len(artifacts)} variant(s), {threads} thread(s)")
    code, stdout = _edgekit([*args, "--json"], log, req.timeout_s, extra_env=thread_env(threads))
    if code != 0:
        return {"measured": False, "reason": f"the baseline run failed: {error_line(log)}"}
    return {"measured": True, **json.loads(stdout)}
