"""Generative decoders with a static KV cache: size, fidelity and host speed per format × precision.

For each model (random weights, seeded: no text exists for them) and each format (ExecuTorch
.pte, ONNX) × precision (fp32, int8, int4) it exports the artifact and prints:
size and ratio to the same format's fp32, greedy steps matching the artifact's reference
(the model it implements: the source, or the source with the same weight quantization) and
matching the fp32 source, next-token agreement with fp32 and perplexity on a fixed 64-token
sequence (teacher-forced through the cache, in the real runtime), time to first token for a
32-token prompt and decode tokens/s measured on this host in a fresh harness process
(medians of --runs generations), peak RSS of that process.

    python benchmarks/bench_llm.py                               # llama-small, gpt2-small
    python benchmarks/bench_llm.py --models gpt2-small --gpt2-layers 4 --formats onnx,tflite

Each finished cell is kept in --out/cells/*.json and reused on a re-run (--force to redo).
Timings are of this host (2 shared cores): the machine load is printed with them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _model(name: str, gpt2_layers: int) -> Any:
    from edge_kit.generative import random_causal_lm

    if name == "gpt2-small" and gpt2_layers != 12:
        return random_causal_lm(name, seed=0, n_layer=gpt2_layers)
    return random_causal_lm(name, seed=0)


def _cell(lm: Any, name: str, fmt: str, precision: str, args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    from edge_kit.generative import (
        check_greedy,
        export_onnx,
        export_pte,
        export_tflite,
        fixed_sequence,
        measure_quality,
    )
    from edge_kit.generative.profile import profile_host
    from edge_kit.generative.runtime import open_decoder

    export = {"pte": export_pte, "onnx": export_onnx, "tflite": export_tflite}[fmt]
    path = folder / f"{name}_{precision}.{fmt}"
    artifact, reference = export(lm, path, cache_len=args.cache_len, precision=precision)
    decoder = open_decoder(path)
    vocab = artifact.layout.vocab_size
    prompt = fixed_sequence(vocab, 16, seed=11)
    label = "source fp32" if reference is lm.model else f"source with the artifact's {precision} weights"
    vs_ref = check_greedy(decoder, reference, prompt, steps=8, reference_label=label)
    vs_fp32 = vs_ref if reference is lm.model else check_greedy(decoder, lm.model, prompt, steps=8)
    quality = measure_quality(
        decoder, lm.model, fixed_sequence(vocab, 64, seed=12), "64 uniform random token ids (seed 12)"
    )
    del decoder
    prof = profile_host(path, prompt_len=args.prompt_len, new_tokens=args.new_tokens, runs=args.runs)
    return {
        "model": name,
        "format": fmt,
        "precision": precision,
        "artifact": artifact.to_dict(),
        "greedy_vs_reference": vs_ref.to_dict(),
        "greedy_vs_fp32": vs_fp32.to_dict(),
        "quality": quality.to_dict(),
        "profile": prof.to_dict(),
        "load_average": os.getloadavg()[0],
    }


def _reprofile(cell: dict[str, Any], args: argparse.Namespace, done: Path) -> None:
    """Time a finished cell's artifact again (all cells under the same machine load)."""
    from edge_kit.generative.profile import profile_host

    prof = profile_host(
        cell["artifact"]["path"], prompt_len=args.prompt_len, new_tokens=args.new_tokens, runs=args.runs
    )
    cell["profile"], cell["load_average"] = prof.to_dict(), os.getloadavg()[0]
    done.write_text(json.dumps(cell, indent=1))


def _row(cell: dict[str, Any], fp32_size: int | None) -> str:
    a, p, q = cell["artifact"], cell["profile"], cell["quality"]
    ratio = f"{a['size_bytes'] / fp32_size:.3f}" if fp32_size else "-"
    return (
        f"{cell['model']:<15} {cell['format']:<6} {cell['precision']:<5} {a['size_bytes'] / 1e6:>9.2f} {ratio:>6} "
        f"{a['export_seconds']:>7.0f} {_steps(cell['greedy_vs_reference']):>5} "
        f"{_steps(cell['greedy_vs_fp32']):>5} {q['agreement'] * 100:>6.1f} "
        f"{q['perplexity']:>9.1f} {q['reference_perplexity']:>9.1f} {p['ttft_ms']:>8.2f} "
        f"{p['decode_tokens_per_s']:>8.1f} {(p['peak_rss_kb'] or 0) / 1024:>7.0f} {cell['load_average']:>5.1f}"
    )


def _steps(check: dict[str, Any]) -> str:
    """strict greedy matches / teacher-forced matches (same context every step)."""
    return f"{check['matched_steps']}/{check.get('forced_matches', '-')}"


HEADER = (
    f"{'model':<15} {'fmt':<6} {'prec':<5} {'size MB':>9} {'ratio':>6} {'exp s':>7} {'ref':>5} {'fp32':>5} "
    f"{'agree%':>6} {'ppl':>9} {'ppl fp32':>9} {'TTFT ms':>8} {'tok/s':>8} {'RSS MB':>7} {'load':>5}"
)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", default="llama-small,gpt2-small")
    p.add_argument("--gpt2-layers", type=int, default=12, help="layers of gpt2-small (real width either way)")
    p.add_argument("--formats", default="pte,onnx")
    p.add_argument("--precisions", default="fp32,int8,int4")
    p.add_argument("--cache-len", type=int, default=128)
    p.add_argument("--prompt-len", type=int, default=32)
    p.add_argument("--new-tokens", type=int, default=32)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--out", default="build/bench_llm")
    p.add_argument("--force", action="store_true")
    p.add_argument("--reprofile", action="store_true", help="re-time finished cells (same load for all)")
    args = p.parse_args()
    out = Path(args.out)
    (out / "cells").mkdir(parents=True, exist_ok=True)
    cells = []
    for name in args.models.split(","):
        tag = name if name != "gpt2-small" or args.gpt2_layers == 12 else f"gpt2-small-{args.gpt2_layers}l"
        lm = None
        for fmt in args.formats.split(","):
            for precision in args.precisions.split(","):
                done = out / "cells" / f"{tag}_{fmt}_{precision}.json"
                if done.exists() and not args.force:
                    cell = json.loads(done.read_text())
                    if args.reprofile:
                        _reprofile(cell, args, done)
                    cells.append(cell)
                    continue
                lm = lm or _model(name, args.gpt2_layers)
                start = time.perf_counter()
                try:
                    cell = _cell(lm, tag, fmt, precision, args, out)
                except Exception as exc:  # a failing cell never stops the others
                    print(f"{tag} {fmt} {precision}: FAILED {type(exc).__name__}: {exc}", file=sys.stderr)
                    continue
                cell["cell_seconds"] = time.perf_counter() - start
                done.write_text(json.dumps(cell, indent=1))
                cells.append(cell)
                print(f"done {tag} {fmt} {precision} in {cell['cell_seconds']:.0f} s", file=sys.stderr, flush=True)
    print(HEADER)
    for cell in cells:
        base = next(
            (
                c["artifact"]["size_bytes"]
                for c in cells
                if (c["model"], c["format"], c["precision"]) == (cell["model"], cell["format"], "fp32")
            ),
            None,
        )
        print(_row(cell, base))
    (out / "bench_llm.json").write_text(json.dumps(cells, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
