"""Runtime adapters of edgekit's profiling harness: onnxruntime, LiteRT, ExecuTorch.

Standalone like the harness (stdlib + numpy + the runtime; no edge_kit imports); it
ships next to `edgekit_harness.py` and `et_runtime.py`, and backends copy the folder.
Each adapter: `load(path, threads)`, `input_specs()`, `output_specs()`, `bind(inputs)`
-> a no-argument callable doing one inference, `static_memory()`, `profile_ops(inputs, runs)`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

EXTENSIONS = {
    ".onnx": "onnxruntime",
    ".ort": "onnxruntime",
    ".tflite": "litert",
    ".lite": "litert",
    ".pte": "executorch",
}
EXIT_USAGE, EXIT_LOAD, EXIT_RUN, EXIT_MISSING = 2, 3, 4, 5


class HarnessError(Exception):
    """A failure the harness reports in its JSON and exit status (`code`)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def detect_runtime(path: str) -> str:
    """Runtime for a model file: by content (TFL3 / ET identifiers), then by extension."""
    with open(path, "rb") as handle:
        head = handle.read(8)
    if head[4:8] == b"TFL3":
        return "litert"
    if head[4:6] == b"ET":
        return "executorch"
    ext = os.path.splitext(path)[1].lower()
    if ext in EXTENSIONS:
        return EXTENSIONS[ext]
    if head[:1] == b"\x08":  # protobuf field 1 (ir_version), as every ONNX file starts
        return "onnxruntime"
    raise HarnessError(f"cannot tell which runtime runs {os.path.basename(path)}", EXIT_USAGE)


def _np() -> Any:
    import numpy

    return numpy


class OnnxRuntime:
    name = "onnxruntime"
    ORT_TYPES = {
        "tensor(float)": "float32",
        "tensor(float16)": "float16",
        "tensor(double)": "float64",
        "tensor(int8)": "int8",
        "tensor(uint8)": "uint8",
        "tensor(int16)": "int16",
        "tensor(int32)": "int32",
        "tensor(int64)": "int64",
        "tensor(bool)": "bool",
    }

    def __init__(self) -> None:
        import onnxruntime

        self.ort = onnxruntime
        self.version = onnxruntime.__version__

    def options(self, threads: int, profile_dir: str | None = None) -> Any:
        so = self.ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        so.add_session_config_entry("session.inter_op.allow_spinning", "0")
        # exact int8 kernels on x86 without VNNI (ORT's default there saturates); no effect on ARM or VNNI CPUs
        so.add_session_config_entry("session.x64quantprecision", "1")
        so.log_severity_level = 3
        if profile_dir:
            so.enable_profiling = True
            so.profile_file_prefix = os.path.join(profile_dir, "ort")
        return so

    def load(self, path: str, threads: int) -> None:
        self.path, self.threads = path, threads
        self.session = self.ort.InferenceSession(path, self.options(threads), providers=["CPUExecutionProvider"])

    def _specs(self, args: list[Any]) -> list[dict[str, Any]]:
        return [
            {
                "name": a.name,
                "shape": [d if isinstance(d, int) else None for d in a.shape],
                "dtype": self.ORT_TYPES.get(a.type, a.type),
            }
            for a in args
        ]

    def input_specs(self) -> list[dict[str, Any]]:
        return self._specs(self.session.get_inputs())

    def output_specs(self) -> list[dict[str, Any]]:
        return self._specs(self.session.get_outputs())

    def bind(self, inputs: list[Any]) -> Callable[[], list[Any]]:
        feed = {spec["name"]: array for spec, array in zip(self.input_specs(), inputs)}
        run = self.session.run
        return lambda: run(None, feed)

    def static_memory(self) -> dict[str, Any]:
        so = self.session.get_session_options()
        return {
            "enable_cpu_mem_arena": so.enable_cpu_mem_arena,
            "enable_mem_pattern": so.enable_mem_pattern,
            "note": "onnxruntime reports arena use only in its profile: use --profile-ops",
        }

    def profile_ops(self, inputs: list[Any], runs: int) -> dict[str, Any]:
        """Per-node times from ORT's own profiler, in a second session (timed runs unaffected)."""
        import tempfile

        with tempfile.TemporaryDirectory(prefix="edgekit-ort-") as folder:
            session = self.ort.InferenceSession(
                self.path, self.options(self.threads, folder), providers=["CPUExecutionProvider"]
            )
            feed = {i.name: a for i, a in zip(session.get_inputs(), inputs)}
            for _ in range(runs):
                session.run(None, feed)
            with open(session.end_profiling(), encoding="utf-8") as handle:
                events = json.load(handle)
        rows = [
            (
                e["name"][: -len("_kernel_time")],
                e.get("args", {}).get("op_name", "?"),
                float(e.get("dur", 0)),
                e.get("args", {}),
            )
            for e in events
            if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time")
        ]
        return {
            **aggregate_ops([(n, op, d) for n, op, d, _ in rows], runs),
            "source": "onnxruntime profiler",
            "memory": _ort_memory([a for *_, a in rows]),
        }


def _ort_memory(node_args: list[dict[str, Any]]) -> dict[str, int]:
    """Arena and weight bytes from the per-node args of ORT's profile."""

    def most(key: str) -> int:
        return max((int(a.get(key, 0)) for a in node_args), default=0)

    params = {a.get("node_index"): int(a.get("parameter_size", 0)) for a in node_args}
    return {
        "arena_held_max_bytes": most("mem_arena_held"),
        "in_use_peak_bytes": most("mem_in_use_peak"),
        "parameter_bytes": sum(params.values()),
    }


class LiteRt:
    name = "litert"

    def __init__(self) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.Interpreter = Interpreter
        self.version = _dist_version("ai-edge-litert")

    def load(self, path: str, threads: int) -> None:
        self.interp = self.Interpreter(model_path=path, num_threads=threads)
        self.interp.allocate_tensors()

    def _specs(self, details: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            {
                "name": d["name"],
                "shape": [int(x) for x in d["shape"]],
                "dtype": _np().dtype(d["dtype"]).name,
                "quantization": [float(d["quantization"][0]), int(d["quantization"][1])],
            }
            for d in details
        ]

    def input_specs(self) -> list[dict[str, Any]]:
        return self._specs(self.interp.get_input_details())

    def output_specs(self) -> list[dict[str, Any]]:
        return self._specs(self.interp.get_output_details())

    def bind(self, inputs: list[Any]) -> Callable[[], list[Any]]:
        it = self.interp
        ins = [(d["index"], a) for d, a in zip(it.get_input_details(), inputs)]
        outs = [d["index"] for d in it.get_output_details()]

        def run() -> list[Any]:
            for index, array in ins:
                it.set_tensor(index, array)
            it.invoke()
            return [it.get_tensor(index) for index in outs]

        return run

    def op_types(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        try:
            ops = self.interp._get_ops_details()  # the execution plan, DELEGATE nodes included
        except Exception:  # noqa: BLE001 - a private API: absent in some versions
            return counts
        for op in ops:
            counts[op["op_name"]] = counts.get(op["op_name"], 0) + 1
        return counts

    def static_memory(self) -> dict[str, Any]:
        np = _np()
        details = self.interp.get_tensor_details()
        sizes = [int(np.prod(d["shape"])) * np.dtype(d["dtype"]).itemsize for d in details]
        types = self.op_types()
        return {
            "tensor_bytes_total": sum(sizes),
            "num_tensors": len(details),
            "xnnpack_delegate": ("DELEGATE" in types) if types else None,
            "note": "sum of all tensors' bytes after allocate_tensors (weights included); "
            "LiteRT's Python API exposes no arena figure",
        }

    def profile_ops(self, inputs: list[Any], runs: int) -> dict[str, Any]:
        return {
            "available": False,
            "op_types": self.op_types(),
            "note": "per-operator timings not available: LiteRT's Python API gives none (benchmark_model "
            "--enable_op_profiling does, in C++); op_types is the static plan",
        }


class ExecuTorch:
    name = "executorch"

    def __init__(self, lib: str | None) -> None:
        lib = lib or os.environ.get("EDGEKIT_ET_LIB")
        if not lib or not os.path.isfile(lib):
            raise HarnessError(
                "the ExecuTorch runtime library is missing: pass --et-lib or set "
                "EDGEKIT_ET_LIB to libedgekit_et.so" + (f" (not found: {lib})" if lib else ""),
                EXIT_MISSING,
            )
        if TYPE_CHECKING:  # the type checker sees the package import only (both bind the same module)
            from . import et_runtime
        else:
            try:
                from . import et_runtime  # imported as edge_kit.harness.harness_runtimes
            except ImportError:
                import et_runtime  # run next to the harness script

        self.et, self.lib = et_runtime, lib
        self.version = et_runtime.load_library(lib).et_version().decode()

    def load(self, path: str, threads: int) -> None:
        self.path, self.threads = path, threads
        self.model = self.et.EtModel(self.lib, path, num_threads=threads)

    def input_specs(self) -> list[dict[str, Any]]:
        return self.model.input_specs()

    def output_specs(self) -> list[dict[str, Any]]:
        return self.model.output_specs()

    def bind(self, inputs: list[Any]) -> Callable[[], list[Any]]:
        run = self.model.run
        return lambda: run(inputs)

    def static_memory(self) -> dict[str, Any]:
        return self.model.memory_info()

    def profile_ops(self, inputs: list[Any], runs: int) -> dict[str, Any]:
        """Leaf ops (kernels outside delegates + ops inside them), shares of the plan's total."""
        leaves: list[tuple[str, str, float]] = []
        calls: list[tuple[str, str, float]] = []
        plan_us = 0.0  # the top-level instructions' time: what a run costs
        with self.et.EtModel(self.lib, self.path, num_threads=self.threads, profile="events") as m:
            for _ in range(runs):
                m.run(inputs)
                for r in m.op_timings():
                    if r["where"] == "delegate":  # "Convolution (NHWC, F32) IGEMM #1"
                        leaves.append((r["op"], r["op"].rsplit(" #", 1)[0], r["duration_us"]))
                        continue
                    plan_us += r["duration_us"]
                    row = (f"{r.get('index')}:{r['op']}", r["op"], r["duration_us"])
                    (calls if r["op"].startswith("delegate:") else leaves).append(row)
        report = aggregate_ops(leaves, runs, total_us=plan_us)
        report["delegate_calls"] = aggregate_ops(calls, runs, total_us=plan_us)["by_op_type"]
        return {
            **report,
            "source": "ExecuTorch event tracer",
            "note": "shares are of the whole plan's time; delegate_calls include the "
            "delegates' own overhead around their ops",
        }


def _dist_version(dist: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"


def make_runtime(name: str, et_lib: str | None) -> Any:
    try:
        if name == "onnxruntime":
            return OnnxRuntime()
        if name == "litert":
            return LiteRt()
        return ExecuTorch(et_lib)
    except ImportError as exc:
        raise HarnessError(f"the {name} runtime is not installed here: {exc}", EXIT_MISSING) from None
    except HarnessError:
        raise
    except Exception as exc:  # noqa: BLE001 - e.g. a runtime library built for another architecture
        text = " ".join(str(exc).split())[:400]
        raise HarnessError(f"cannot start the {name} runtime: {text}", EXIT_MISSING) from None


def aggregate_ops(rows: list[tuple[str, str, float]], runs: int, total_us: float | None = None) -> dict[str, Any]:
    """(node, op type, µs) rows of `runs` runs -> mean per-run time by op type and by node.

    Shares are of `total_us` (default: the rows' own sum)."""
    by_type: dict[str, list[float]] = {}
    by_node: dict[str, list[Any]] = {}
    for node, op, dur in rows:
        by_type.setdefault(op, [0.0, 0])[0] += dur
        by_type[op][1] += 1
        by_node.setdefault(node, [op, 0.0])[1] += dur
    total = total_us or sum(v[0] for v in by_type.values()) or 1.0
    types = [
        {"op": op, "mean_us": t / runs, "calls_per_run": n / runs, "share": t / total}
        for op, (t, n) in sorted(by_type.items(), key=lambda kv: -kv[1][0])
    ]
    nodes = [
        {"node": node, "op": op, "mean_us": t / runs, "share": t / total}
        for node, (op, t) in sorted(by_node.items(), key=lambda kv: -kv[1][1])[:200]
    ]
    return {"available": True, "runs": runs, "total_mean_us": total / runs, "by_op_type": types, "by_node": nodes}
