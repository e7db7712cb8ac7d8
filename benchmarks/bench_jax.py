"""What the JAX routes give on the Flax digits sample (not a test).

    .venv/bin/python benchmarks/bench_jax.py [--sources export,checkpoint] [--formats tflite,onnx]
        [--precisions fp32,fp16,int8-dynamic,int8] [--json OUT]

Sources: `digits_flax.jaxexport` (a serialized jax.export artifact, batch symbolic) and
`digits_flax.msgpack` (a Flax checkpoint + `sample_models.digits_flax:make_model`). Each row
converts with `edge_kit.bridges.jax_convert` (library calls), runs the artifact in its own
runtime (ai-edge-litert / onnxruntime) on the 450 held-out digits and prints the route, size,
conversion time (wall clock on this shared machine), max abs difference of the logits against
the JAX reference (jitted on CPU), top-1 accuracy and the drop in points against JAX. Static
int8 calibrates on `digits_calib_nhwc.npz` (200 training images). Artifacts go to a temporary
folder.
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
sys.path.insert(0, str(ROOT))

FACTORY = "sample_models.digits_flax:make_model"
SOURCES = {"export": "digits_flax.jaxexport", "checkpoint": "digits_flax.msgpack"}
RECIPES = {
    ("tflite", "fp16"): "tflite_fp16_weights",
    ("tflite", "int8-dynamic"): "tflite_int8_dynamic_range",
    ("tflite", "int8"): "tflite_int8_full_integer_float_io",
    ("onnx", "fp16"): "onnx_fp16",
    ("onnx", "int8-dynamic"): "onnx_int8_dynamic",
    ("onnx", "int8"): "onnx_int8_static_qdq_per_channel_minmax",
}


def _options(fmt: str, precision: str, calibration: np.ndarray, workdir: Path) -> Any:
    from edge_kit.exporters.base import ExportOptions
    from edge_kit.recipes import get_recipe

    recipe = get_recipe(RECIPES[(fmt, precision)]) if precision != "fp32" else None
    batches = [[row[None]] for row in calibration] if precision == "int8" else None
    return ExportOptions(precision=precision, recipe=recipe, calibration=batches, workdir=workdir)


def _outputs(fmt: str, path: Path, x: np.ndarray, source: Any) -> np.ndarray:
    if fmt == "tflite":
        from edge_kit.exporters.tflite import TfliteRunner

        runner: Any = TfliteRunner(path)
        return np.concatenate([runner.run([row[None]])[0] for row in x])
    from edge_kit.exporters.onnx import OnnxRunner

    return OnnxRunner(path).run([x])[0]


def row(source: Any, fmt: str, precision: str, data: dict[str, np.ndarray], out: Path) -> dict[str, Any]:
    """Convert, run and measure one (format, precision) of a source."""
    from edge_kit.bridges import jax_convert

    x, y, reference = data["x"], data["y"], data["reference"]
    dest = out / f"{source.kind.value}_{precision}.{fmt}"
    work = out / f"work_{source.kind.value}_{fmt}_{precision}"
    work.mkdir()
    options = _options(fmt, precision, data["calibration"], work)
    start = time.perf_counter()
    export = jax_convert.export_tflite if fmt == "tflite" else jax_convert.export_onnx
    facts = export(source, dest, options)
    seconds = time.perf_counter() - start
    logits = _outputs(fmt, dest, x, source)
    accuracy = float((logits.argmax(1) == y).mean())
    return {
        "source": source.kind.value,
        "format": fmt,
        "precision": precision,
        "route": facts.get("onnx_route", facts.get("converter")),
        "bytes": dest.stat().st_size,
        "seconds": round(seconds, 2),
        "max_abs_diff": float(np.abs(logits - reference).max()),
        "accuracy": accuracy,
        "drop_points": round(100 * (data["jax_accuracy"] - accuracy), 2),
        "input_dims": facts.get("input_dims"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", default="export,checkpoint")
    parser.add_argument("--formats", default="tflite,onnx")
    parser.add_argument("--precisions", default="fp32,fp16,int8-dynamic,int8")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    from edge_kit.models.jax_files import load_jax
    from sample_models import load_npz, sample_path

    evaluation = load_npz("digits_eval_nhwc.npz")
    rows = []
    with tempfile.TemporaryDirectory(prefix="edgekit-bench-jax-") as tmp:
        for key in args.sources.split(","):
            start = time.perf_counter()
            source = load_jax(sample_path(SOURCES[key]), model_class=FACTORY)
            load_seconds = time.perf_counter() - start
            reference = source.run([evaluation["x"]])[0]
            data = {
                **evaluation,
                "reference": reference,
                "calibration": load_npz("digits_calib_nhwc.npz")["x"],
                "jax_accuracy": float((reference.argmax(1) == evaluation["y"]).mean()),
            }
            print(f"{SOURCES[key]}: loaded in {load_seconds:.1f} s, JAX accuracy {data['jax_accuracy']:.4f}")
            for fmt in args.formats.split(","):
                for precision in args.precisions.split(","):
                    result = row(source, fmt, precision, data, Path(tmp))
                    rows.append(result)
                    print(
                        f"  {fmt:6} {precision:12} {result['route']:32} {result['bytes']:>9,} B "
                        f"{result['seconds']:6.2f} s  max|Δ| {result['max_abs_diff']:.2e}  "
                        f"acc {result['accuracy']:.4f}  drop {result['drop_points']:+.2f} pt"
                        + (f"  inputs {result['input_dims']}" if result["input_dims"] else "")
                    )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
