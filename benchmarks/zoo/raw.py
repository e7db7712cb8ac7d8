"""The raw-converter baseline: for a (model, format, precision) cell, run the underlying converter
directly (benchmarks/zoo/converters.py), run the result in its runtime and compare it with the
source on the model's sample inputs.

    .venv/bin/python -m benchmarks.zoo.raw --cache build/zoo --out build/zoo-raw MODEL onnx:fp32 tflite:int8 ...

Prints one JSON line per cell (a `RawResult`). One process per model: the source and the
frameworks load once; bench_zoo.py restarts it past a cell that crashed the process.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from benchmarks.zoo import converters as cv
from benchmarks.zoo.build import first_line, load_built
from benchmarks.zoo.models import by_name
from benchmarks.zoo.runtimes import batches, compare, onnx_runner, pte_runner, source_runner, tflite_runner
from benchmarks.zoo.spec import Entry

SUFFIX = {"onnx": ".onnx", "tflite": ".tflite", "executorch": ".pte"}
ONNX2TF = (
    "no raw converter: onnx2tf pins tensorflow==2.19 / numpy==1.26 / onnx==1.19 (not installable beside this stack)"
)


@dataclass
class RawResult:
    """One baseline cell. status: ok | mismatch | failed | none (no raw converter for this cell)."""

    model: str
    format: str
    precision: str
    status: str
    converter: str = ""
    seconds: float = 0.0
    validate_s: float = 0.0
    size_bytes: int | None = None
    max_abs_diff: float | None = None
    cosine: float | None = None
    top1: float | None = None
    reasons: list[str] = field(default_factory=list)
    error: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def convert(entry: Entry, source: Path, fmt: str, precision: str, out: Path) -> str:
    """Write the raw artifact for one cell at `out`; returns the converter's name."""
    kind = entry.source
    if kind in ("pt2", "torchscript"):
        if fmt == "onnx":
            return _then_ort(entry, precision, out, lambda f: cv.torch_onnx(entry, source, f))
        if kind == "torchscript":
            raise cv.NoConverter("no plain TorchScript → tflite/executorch converter (torch.export takes nn.Modules)")
        return (cv.torch_tflite if fmt == "tflite" else cv.torch_executorch)(entry, source, out, precision)
    if kind in ("keras", "savedmodel"):
        if fmt == "onnx":
            return _then_ort(entry, precision, out, lambda f: cv.keras_onnx(entry, source, f))
        if fmt == "tflite":
            return cv.keras_tflite(entry, source, out, precision)
        raise cv.NoConverter("no Keras/TensorFlow → ExecuTorch converter")
    if kind == "onnx":
        if fmt == "onnx":
            return _then_ort(entry, precision, out, lambda f: _copy(source, f))
        raise cv.NoConverter(ONNX2TF if fmt == "tflite" else "no ONNX → ExecuTorch converter")
    if kind == "tflite":
        if fmt == "tflite":
            return cv.tflite_int8(entry, source, out) if precision == "int8" else _copy(source, out)
        if fmt == "onnx":
            return _then_ort(entry, precision, out, lambda f: cv.tflite_onnx(entry, source, f))
        raise cv.NoConverter("no TFLite → ExecuTorch converter")
    raise cv.NoConverter(f"unknown source kind {kind}")


def _copy(source: Path, out: Path) -> str:
    shutil.copyfile(source, out)
    return "the source file itself"


def _then_ort(entry: Entry, precision: str, out: Path, make_fp32) -> str:
    """fp32 ONNX from `make_fp32`; for int8, then onnxruntime quantize_static on it."""
    if precision == "fp32":
        return make_fp32(out)
    fp32 = out.with_name(out.stem + ".fp32.onnx")
    name = make_fp32(fp32)
    return f"{name} + {cv.ort_int8(entry, fp32, out)}"


def _runner(fmt: str, path: Path, entry: Entry):
    return {"onnx": onnx_runner, "executorch": pte_runner}[fmt](path) if fmt != "tflite" else tflite_runner(path, entry)


def run_cell(entry: Entry, source: Path, data: list, reference, fmt: str, precision: str, folder: Path) -> RawResult:
    """Convert, run in the runtime, compare: one typed result, never an exception."""
    result = RawResult(entry.name, fmt, precision, "failed")
    out = folder / f"{entry.name}.{precision}{SUFFIX[fmt]}"
    start = time.perf_counter()
    try:
        result.converter = convert(entry, source, fmt, precision, out)
    except cv.NoConverter as exc:
        result.status, result.error = "none", str(exc)
        return result
    except Exception as exc:
        result.error, result.seconds = first_line(exc), round(time.perf_counter() - start, 2)
        return result
    result.seconds = round(time.perf_counter() - start, 2)
    result.size_bytes = out.stat().st_size
    start = time.perf_counter()
    try:
        verdict = compare(reference, _runner(fmt, out, entry), data, precision)
    except Exception as exc:
        result.error = "runtime: " + first_line(exc)
        return result
    finally:
        result.validate_s = round(time.perf_counter() - start, 2)
    result.status, result.max_abs_diff, result.cosine = verdict.status, verdict.max_abs_diff, verdict.cosine
    result.top1, result.reasons = verdict.top1, list(verdict.reasons)
    return result


def _cached_reference(runner):
    """The source's outputs, computed once per batch (every cell compares against them)."""
    cache: dict[int, list[np.ndarray]] = {}

    def run(batch):
        key = id(batch)
        if key not in cache:
            cache[key] = runner(batch)
        return cache[key]

    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, required=True, help="the built zoo")
    parser.add_argument("--out", type=Path, required=True, help="folder for the raw artifacts")
    parser.add_argument("model")
    parser.add_argument("cells", nargs="+", help="FORMAT:PRECISION, e.g. onnx:fp32 tflite:int8")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    entry = by_name(args.model)
    built = load_built(entry, args.cache)
    if built is None:
        print(f"{entry.name} is not built in {args.cache}", file=sys.stderr)
        return 2
    data = batches(entry, dict(np.load(built.inputs)))
    folder = args.out / entry.name
    folder.mkdir(parents=True, exist_ok=True)
    try:
        reference = _cached_reference(source_runner(entry, built.source))
    except Exception as exc:  # the source itself does not run here: every cell says so
        error = "the source does not run in its framework: " + first_line(exc)
        for fmt, precision in (cell.split(":") for cell in args.cells):
            print(json.dumps(RawResult(entry.name, fmt, precision, "failed", error=error).to_dict()), flush=True)
        return 0
    for cell in args.cells:
        fmt, precision = cell.split(":")
        print(json.dumps(run_cell(entry, built.source, data, reference, fmt, precision, folder).to_dict()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
