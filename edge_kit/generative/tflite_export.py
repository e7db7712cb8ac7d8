"""Decoder → TFLite through litert-torch's generative exporter (`litert_torch.generative.export_hf`).

litert-torch re-traces the transformers model with its own attention ("lrt_transposed_attention")
and writes one .tflite with two signatures: `prefill_{P}` (tokens [1, P], input_pos [P], an
additive mask [1, 1, P, cache_len], the cache in and out; no logits) and `decode` (one token,
logits [1, 1, vocab]). The cache is external (inputs and outputs; values stored transposed).
The exporter reads a checkpoint folder with a tokenizer, so the model is saved to a temporary
folder first (with a word-level tokenizer when it has none). Quantization: ai-edge-quantizer
recipes — int8 = dynamic int8 weights per channel (fully connected and embedding), int4 =
int4 blockwise fully connected weights with int4 per-channel embeddings.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from edge_kit.errors import ExportError, UnsupportedError
from edge_kit.fsutil import atomic_path
from edge_kit.generative.results import GenerativeArtifact
from edge_kit.generative.source import CausalLM, _offline, save_checkpoint


def _recipe(precision: str, group_size: int, embeddings: bool) -> list[Any]:
    from ai_edge_quantizer import recipe as recipes
    from ai_edge_quantizer.recipe import TFLOperationName

    fc = TFLOperationName.FULLY_CONNECTED
    emb = TFLOperationName.EMBEDDING_LOOKUP
    if precision == "int8":
        parts = recipes.dynamic_wi8c_afp32(operation_name=fc)
        return parts + (recipes.dynamic_wi8c_afp32(operation_name=emb) if embeddings else [])
    block = getattr(recipes, f"dynamic_wi4b{group_size}_afp32", None)
    if block is None:
        raise UnsupportedError(f"ai-edge-quantizer has no int4 recipe with blocks of {group_size}", hint="use 32 or 64")
    return block(operation_name=fc) + (recipes.dynamic_wi4c_afp32(operation_name=emb) if embeddings else [])


def _declare_heads(config_json: Path, kv_heads: int) -> None:
    """litert-torch sizes its cache from `num_key_value_heads`, which multi-head configs
    (GPT-2) do not define: declare it (= the attention heads) in the saved config."""
    import json

    config = json.loads(config_json.read_text())
    if "num_key_value_heads" not in config:
        config["num_key_value_heads"] = kv_heads
        config_json.write_text(json.dumps(config, indent=2))


def _quantize(src: Path, dest: Path, recipe: list[Any]) -> None:
    from ai_edge_quantizer import quantizer

    qt = quantizer.Quantizer(str(src))
    qt.load_quantization_recipe(recipe)
    qt.quantize().export_model(str(dest), overwrite=True)


def export_tflite(
    lm: CausalLM,
    dest: str | Path,
    *,
    cache_len: int = 128,
    precision: str = "fp32",
    prefill_len: int | None = None,
    group_size: int = 32,
    quantize_embeddings: bool = True,
) -> tuple[GenerativeArtifact, Any]:
    """Write `dest` (.tflite: prefill_{P} and decode signatures) and return the record and the
    reference model (the fp32 source: LiteRT quantizes activations dynamically, which a torch
    twin cannot reproduce exactly)."""
    from edge_kit.exporters.quiet import quiet_fds

    layout = lm.layout(cache_len)
    prefill_len = min(prefill_len or 32, cache_len)
    dest = Path(dest)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="edgekit-litert-") as tmp:
        folder, out = save_checkpoint(lm, Path(tmp) / "checkpoint"), Path(tmp) / "out"
        _declare_heads(folder / "config.json", layout.num_kv_heads)
        try:
            from litert_torch.generative.export_hf import export as export_hf

            with quiet_fds(), _offline():
                export_hf.export(
                    model=str(folder),
                    output_dir=str(out),
                    prefill_lengths=[prefill_len],
                    cache_length=cache_len,
                    quantization_recipe="none",
                    bundle_litert_lm=False,
                    keep_temporary_files=True,
                )
        except Exception as exc:  # noqa: BLE001 - litert-torch raises many types
            raise ExportError(f"litert-torch export of the {lm.family.label} decoder failed: {_short(exc)}") from None
        fp32 = out / "model.tflite"
        if not fp32.is_file():
            raise ExportError(f"litert-torch wrote no model.tflite for the {lm.family.label} decoder")
        with atomic_path(dest) as target:
            if precision == "fp32":
                shutil.copyfile(fp32, target)
            else:
                with quiet_fds():
                    _quantize(fp32, target, _recipe(precision, group_size, quantize_embeddings))
            size = target.stat().st_size
    quant = {}
    if precision != "fp32":
        quant = {
            "fully_connected": "dynamic int8 per-channel" if precision == "int8" else f"int4 blocks of {group_size}",
            "embedding": ("int8" if precision == "int8" else "int4") + " per-channel"
            if quantize_embeddings
            else "fp32",
        }
    artifact = GenerativeArtifact(
        path=dest,
        format="tflite",
        precision=precision,
        family=lm.family.name,
        layout=layout,
        max_prefill=prefill_len,
        size_bytes=size,
        export_seconds=time.perf_counter() - start,
        quantization=quant,
        notes=("prefill signature has no logits: the last prompt token runs through decode",),
    )
    return artifact, lm.model


def _short(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
