"""Whisper → one ExecuTorch `.pte` (XNNPACK) with two methods and the decoder's KV cache inside.

- `encoder(input_features [1, mels, frames]) -> encoder_hidden_states [1, positions, d_model]`
- `text_decoder(decoder_input_ids [1, 1], encoder_hidden_states, cache_position [1]) -> logits [1, vocab]`,
  the self-attention cache in mutable buffers (state between calls).

Constant methods carry the metadata: `get_max_seq_len`, `get_vocab_size`, `use_kv_cache`, and the
encoder-decoder facts `get_decoder_start_token_id`, `get_n_mels`, `get_n_frames`,
`get_max_hidden_seq_len` (what marks the program as encoder-decoder for the runtimes here).
int8/int4 use the decoder-only path's torchao schemes (8da8w / 8da4w linears, the token
embedding weight-only); the convolutions and positional tables stay fp32.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from edge_kit.errors import ExportError
from edge_kit.fsutil import write_bytes_atomic
from edge_kit.generative.results import GenerativeArtifact, KVLayout
from edge_kit.generative.seq2seq import SpeechSeq2Seq

METHODS = ("encoder", "text_decoder")


def exported_programs(lm: SpeechSeq2Seq, model: Any, layout: KVLayout) -> dict[str, Any]:
    """torch.export (strict) of the encoder and of the one-token decoder."""
    import torch

    from edge_kit.generative.seq2seq_modules import BufferCacheSpeechDecoder, SpeechEncoder

    features = torch.zeros(lm.features_shape)
    hidden = torch.zeros(lm.hidden_shape)
    step = (torch.tensor([[lm.start_token]]), hidden, torch.tensor([0]))
    with torch.no_grad():
        return {
            "encoder": torch.export.export(SpeechEncoder(model).eval(), (features,), strict=True),
            "text_decoder": torch.export.export(BufferCacheSpeechDecoder(model, layout).eval(), step, strict=True),
        }


def metadata(lm: SpeechSeq2Seq, layout: KVLayout) -> dict[str, Any]:
    """Constant methods: the decoder-only names ExecuTorch's runners read, plus the encoder's input."""
    _, mels, frames = lm.features_shape
    return {
        "get_max_seq_len": layout.cache_len,
        "get_max_context_len": layout.cache_len,
        "get_vocab_size": layout.vocab_size,
        "get_n_layers": layout.num_layers,
        "use_kv_cache": True,
        "get_decoder_start_token_id": lm.start_token,
        "get_n_mels": mels,
        "get_n_frames": frames,
        "get_max_hidden_seq_len": lm.hidden_shape[1],
    }


def export_speech_pte(
    lm: SpeechSeq2Seq, dest: str | Path, *, cache_len: int = 128, precision: str = "fp32", group_size: int = 32
) -> tuple[GenerativeArtifact, Any]:
    """Write `dest` (.pte) and return the artifact record and its reference torch model
    (the source for fp32; the torchao-quantized source for int8/int4)."""
    from edge_kit.exporters.quiet import quiet_fds
    from edge_kit.generative.executorch_export import _short, lower

    layout = lm.layout(cache_len)
    start = time.perf_counter()
    model, quant = lm.model, dict[str, Any]()
    if precision != "fp32":
        from edge_kit.generative.quantize import quantize_for_executorch

        model, quant = quantize_for_executorch(
            lm.model, precision, group_size=group_size, embedding_names=("embed_tokens",)
        )
        # padding_idx only matters for gradients; ExecuTorch's quantized-embedding fusion matches
        # embedding(weight, ids) without it (else torchao's dequantize stays, with no kernel)
        model.get_decoder().embed_tokens.padding_idx = None
    try:
        with quiet_fds():
            data = lower(exported_programs(lm, model, layout), metadata(lm, layout))
    except Exception as exc:  # noqa: BLE001 - torch.export / ExecuTorch raise many types
        raise ExportError(f"ExecuTorch export of the Whisper encoder-decoder failed: {_short(exc)}") from None
    write_bytes_atomic(Path(dest), data)
    notes = ["cross-attention keys/values are recomputed from encoder_hidden_states at every decoder step"]
    if lm.tied_embeddings:
        notes.append("tied token embedding/output projection stored twice (embedding outside XNNPACK, head inside)")
    artifact = GenerativeArtifact(
        path=Path(dest),
        format="executorch",
        precision=precision,
        family=lm.family.name,
        layout=layout,
        max_prefill=1,
        size_bytes=len(data),
        export_seconds=time.perf_counter() - start,
        quantization=quant,
        notes=tuple(notes),
    )
    return artifact, model
