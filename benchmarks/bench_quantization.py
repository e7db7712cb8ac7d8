"""What quantization costs, for every sample model × format × precision (not a test).

    .venv/bin/python benchmarks/bench_quantization.py [--samples DIR] [--mobilenet [--crops N]]
        [--transformers] [--only NAME] [--formats tflite,onnx,executorch]
        [--precisions fp32,fp16,int8-dynamic,int8] [--equalize] [--json OUT]

Each row is a real `edgekit export` (library call) with the model's held-out data as
`--eval` and its calibration file (static int8): artifact size, the metric in the
artifact's own runtime (top-1 accuracy with labels, top-1 agreement with the fp32 source
without), the drop in points, the output error (mean normalised squared error of the scores
against the source's), the manifest status, the size relative to fp32 and, for int8, the share of
weight bytes and of MACs that are int8 in the artifact (`quantization.int8_share`). `--equalize` adds
an `int8-eq` row per torch model and format: the `*_equalized` recipe (channels equalized and
weight rounding bias corrected before static int8).
`--mobilenet` adds MobileNetV2 (real ImageNet weights, bundled photos; written to a
temporary folder by `python -m sample_models.export_mobilenet`); `--crops N` also evaluates it
on N random crops of the photos (`mobilenet_v2-crops`), where one photo is not 4.5 points.
`--transformers` adds a BERT classifier (top-1 agreement on random token ids) and GPT-2 with tied
embeddings (no eval: its logits are per token), random weights from transformers configs
(`sample_models/transformers_tiny.py`). Artifacts go to a temporary folder; nothing is written
into the repository.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SUFFIX = {"tflite": ".tflite", "onnx": ".onnx", "executorch": ".pte"}
EQUALIZED = {
    "tflite": "litert_pt2e_int8_static_per_channel_equalized",
    "onnx": "onnx_int8_static_qdq_per_channel_percentile_equalized",
    "executorch": "xnnpack_pt2e_int8_static_per_channel_equalized",
}
PRECISIONS = ("fp32", "fp16", "int8-dynamic", "int8")


@dataclass(frozen=True)
class Sample:
    """A sample model with its eval and calibration data and the formats it exports to."""

    name: str
    model: str
    eval: str
    calibration: str
    formats: tuple[str, ...] = ("tflite", "onnx", "executorch")


SAMPLES = (
    Sample("digits", "digits_cnn.pt2", "digits_eval.npz", "digits_calib.npz"),
    Sample("digits-keras", "digits_cnn.keras", "digits_eval_nhwc.npz", "digits_calib_nhwc.npz", ("tflite", "onnx")),
    Sample("mnist", "mnist_cnn.pt2", "mnist_eval.npz", "mnist_calib.npz"),
    Sample("sensor", "sensor_cnn.pt2", "sensor_eval.npz", "sensor_calib.npz"),
)


def mobilenet(folder: Path, crops: int = 0) -> list[Sample]:
    """Write MobileNetV2 and its 22 photos into `folder`. It is evaluated on the photos and
    calibrated on their other views (mirrored, 1.25x zoom), not on the evaluated inputs; with
    `crops`, also evaluated on that many random crops."""
    subprocess.run(
        [sys.executable, "-m", "sample_models.export_mobilenet", str(folder)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=600,
    )
    from sample_models.mobilenet import load_crops, load_photos, photo_names

    views = load_photos(augment=True)[len(photo_names()) :]
    np.savez(folder / "mobilenet_v2_calib.npz", x=views)
    model, calib = str(folder / "mobilenet_v2.pt2"), str(folder / "mobilenet_v2_calib.npz")
    samples = [Sample("mobilenet_v2", model, str(folder / "mobilenet_v2_eval.npz"), calib)]
    if crops:
        np.savez(folder / "mobilenet_v2_crops.npz", x=load_crops(crops, seed=7))
        samples.append(Sample("mobilenet_v2-crops", model, str(folder / "mobilenet_v2_crops.npz"), calib))
    return samples


def transformers(folder: Path) -> list[Sample]:
    """BERT (hidden 128, 2 layers, the 30,522-token vocabulary, 128 tokens) and GPT-2 (n_embd 128,
    2 layers, 50,257 tokens, LM head tied to the embedding), with token-id data, in `folder`."""
    from sample_models import transformers_tiny as tt

    folder.mkdir(parents=True, exist_ok=True)
    bert = tt.bert(folder / "bert.pt2", vocab=30522, hidden=128, seq=128)
    tt.token_batches(folder / "bert_calib.npz", 32, 30522, 128, seed=0)
    tt.token_batches(folder / "bert_eval.npz", 32, 30522, 128, seed=1)
    gpt2 = tt.gpt2(folder / "gpt2.pt2", vocab=50257, hidden=128, seq=64, layers=2)
    tt.token_batches(folder / "gpt2_calib.npz", 16, 50257, 64, seed=0, mask=False)
    return [
        Sample("bert", str(bert), str(folder / "bert_eval.npz"), str(folder / "bert_calib.npz")),
        Sample("gpt2", str(gpt2), "", str(folder / "gpt2_calib.npz"), ("onnx", "executorch")),
    ]


def run_one(
    sample: Sample, samples_dir: Path, fmt: str, precision: str, out: Path, recipe: str | None = None
) -> dict[str, Any]:
    """One export; a row with the figures, or with the error line when it failed."""
    from edge_kit.errors import EdgeKitError
    from edge_kit.pipeline import ExportRequest, export

    label = precision + ("-eq" if recipe else "")
    row: dict[str, Any] = {"model": sample.name, "format": fmt, "precision": label}
    start = time.perf_counter()
    try:
        result = export(
            ExportRequest(
                model=samples_dir / sample.model,
                format=fmt,
                precision=precision,
                recipe=recipe,
                output=out / f"{sample.name}.{label}{SUFFIX[fmt]}",
                eval_data=samples_dir / sample.eval if sample.eval else None,
                calibration=samples_dir / sample.calibration if precision == "int8" else None,
                sample_inputs=None if sample.eval else samples_dir / sample.calibration,
            )
        )
    except EdgeKitError as exc:
        return {**row, "status": "failed", "error": exc.one_line(), "seconds": time.perf_counter() - start}
    quantization = result.manifest.get("quantization") or {}
    share = quantization.get("int8_share") or {}
    return {
        **row,
        "status": result.status,
        "size_bytes": result.manifest["artifact"]["size_bytes"],
        **_accuracy(result.manifest),
        "recipe": quantization.get("recipe"),
        "int8_weights": share.get("weights"),
        "int8_macs": share.get("macs"),
        "largest_float": share.get("largest_float"),
        "stored_twice_bytes": (result.manifest["artifact"].get("shared_weights") or {}).get("stored_twice_bytes"),
        "seconds": time.perf_counter() - start,
    }


def _accuracy(manifest: dict[str, Any]) -> dict[str, Any]:
    """The accuracy figures (validation cosine for a model without eval data)."""
    acc = manifest.get("accuracy")
    if acc is None:
        cosine = manifest["validation"]["cosine_similarity"]
        return {"metric": "cosine (valid.)", "source": 1.0, "artifact": cosine, "drop": 0.0, "output_error": 0.0}
    keys = ("metric", "source", "artifact", "drop", "output_error")
    return {k: acc[k] for k in keys}


def with_ratios(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add each row's size relative to the fp32 artifact of the same model and format."""
    fp32 = {(r["model"], r["format"]): r.get("size_bytes") for r in rows if r["precision"] == "fp32"}
    for r in rows:
        base = fp32.get((r["model"], r["format"]))
        r["size_ratio"] = round(r["size_bytes"] / base, 4) if base and r.get("size_bytes") else None
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    width = max([len("model")] + [len(r["model"]) for r in rows]) + 2
    lines = [
        f"{'model':<{width}}{'format':<12}{'precision':<14}{'size':>10}{'ratio':>8}  {'metric':<16}"
        f"{'source':>8}{'artifact':>9}{'drop':>7}{'out err':>10}{'int8 w':>8}{'int8 mac':>9}  status"
    ]
    for r in rows:
        if r["status"] == "failed":
            lines.append(
                f"{r['model']:<{width}}{r['format']:<12}{r['precision']:<14}{'-':>10}{'-':>8}  {'-':<16}"
                f"{'-':>8}{'-':>9}{'-':>7}{'-':>10}{'-':>8}{'-':>9}  failed: {r['error'][:90]}"
            )
            continue
        ratio = f"{r['size_ratio']:.3f}" if r["size_ratio"] else "-"
        lines.append(
            f"{r['model']:<{width}}{r['format']:<12}{r['precision']:<14}{r['size_bytes']:>10,}{ratio:>8}  "
            f"{r['metric']:<16}{r['source']:>8.2f}{r['artifact']:>9.2f}{r['drop']:>7.2f}{r['output_error']:>10.3g}"
            f"{_share(r['int8_weights']):>8}{_share(r['int8_macs']):>9}  {r['status']}"
        )
    return "\n".join(lines)


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=Path, default=ROOT / "sample_models", help="folder of sample models")
    parser.add_argument("--mobilenet", action="store_true", help="add MobileNetV2 on the bundled photos")
    parser.add_argument("--crops", type=int, default=0, help="with --mobilenet: also evaluate on N random crops")
    parser.add_argument("--transformers", action="store_true", help="add BERT and GPT-2 (random weights)")
    parser.add_argument("--only", action="append", default=[], help="model names to run (repeatable)")
    parser.add_argument("--formats", default="tflite,onnx,executorch")
    parser.add_argument("--precisions", default=",".join(PRECISIONS))
    parser.add_argument(
        "--equalize", action="store_true", help="add int8 rows with the *_equalized recipes (torch models)"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the rows as JSON here")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from edge_kit import progress

    progress.set_quiet(True)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="edgekit-bench-") as tmp:
        out = Path(tmp)
        samples = [s for s in SAMPLES if not args.only or s.name in args.only]
        if args.mobilenet and (not args.only or "mobilenet_v2" in args.only):
            samples += mobilenet(out / "mobilenet", args.crops)
        if args.transformers:
            samples += [s for s in transformers(out / "transformers") if not args.only or s.name in args.only]
        for sample in samples:
            for fmt in (f for f in args.formats.split(",") if f in sample.formats):
                runs = [(p, None) for p in args.precisions.split(",")]
                if args.equalize and "int8" in args.precisions.split(",") and sample.model.endswith(".pt2"):
                    runs.append(("int8", EQUALIZED[fmt]))
                for precision, recipe in runs:
                    rows.append(run_one(sample, args.samples, fmt, precision, out, recipe))
                    print(
                        f"# {sample.name} {fmt} {rows[-1]['precision']}: {rows[-1]['status']} "
                        f"({rows[-1]['seconds']:.1f}s)",
                        file=sys.stderr,
                        flush=True,
                    )
    rows = with_ratios(rows)
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
