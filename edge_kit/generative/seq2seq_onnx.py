"""Whisper → an Optimum-style ONNX folder: `encoder.onnx` and `decoder.onnx`.

One ONNX graph has one entry point, so the encoder (run once per utterance) and the decoder
(run once per token) are two files in the folder `-o` names:

- `encoder.onnx`: `input_features` [1, mels, frames] -> `encoder_hidden_states` [1, positions, d_model]
- `decoder.onnx`: `decoder_input_ids` int64 [1, 1], `encoder_hidden_states`, `cache_position` int64 [1],
  `past_key_i`/`past_value_i` [1, heads, cache_len, head_dim] -> `logits` [1, vocab], `present_*`
  (the self-attention cache; the cross-attention keys/values are recomputed every step).

Both carry `metadata_props["edgekit.generative"]` (kind "encoder-decoder", the cache layout, the
decoder start token, the features shape). Quantization reuses the decoder-only helpers: int4 =
MatMulNBits on the linear layers (token embedding kept fp32), int8 = ORT dynamic quantization.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from edge_kit.errors import ExportError
from edge_kit.generative.results import GenerativeArtifact, KVLayout
from edge_kit.generative.seq2seq import SpeechSeq2Seq

FILES = ("encoder.onnx", "decoder.onnx")


def _onnx(module: Any, args: tuple[Any, ...], inputs: list[str], outputs: list[str]) -> Any:
    """A static-shape ModelProto from torch.onnx's dynamo exporter, debug info stripped."""
    import torch

    from edge_kit.generative.onnx_export import _strip_debug_info

    with torch.no_grad():
        program = torch.onnx.export(
            module, args, input_names=inputs, output_names=outputs, dynamo=True, optimize=True, verbose=False
        )
    if program is None:
        raise ExportError("torch.onnx.export returned no program")
    model = program.model_proto
    _strip_debug_info(model)
    return model


def export_graphs(lm: SpeechSeq2Seq, layout: KVLayout) -> dict[str, Any]:
    """{file name: fp32 ModelProto} of the encoder and the one-token decoder."""
    import torch

    from edge_kit.generative.seq2seq_modules import IOCacheSpeechDecoder, SpeechEncoder

    encoder = _onnx(
        SpeechEncoder(lm.model).eval(), (torch.zeros(lm.features_shape),), ["input_features"], ["encoder_hidden_states"]
    )
    wrapper = IOCacheSpeechDecoder(lm.model, layout).eval()
    args = (torch.tensor([[lm.start_token]]), torch.zeros(lm.hidden_shape), torch.tensor([0]), wrapper.empty_cache())
    names = ["decoder_input_ids", "encoder_hidden_states", "cache_position", *layout.cache_names("past")]
    decoder = _onnx(wrapper, args, names, ["logits", *layout.cache_names("present")])
    return dict(zip(FILES, (encoder, decoder)))


def metadata(lm: SpeechSeq2Seq, layout: KVLayout, precision: str) -> str:
    return json.dumps(
        {
            **layout.to_dict(),
            "kind": "encoder-decoder",
            "max_prefill": 1,
            "precision": precision,
            "logits": "last",
            "decoder_start_token_id": lm.start_token,
            "features_shape": list(lm.features_shape),
            "hidden_shape": list(lm.hidden_shape),
        }
    )


def _write(model: Any, path: Path, meta: str, precision: str, group_size: int) -> None:
    import onnx

    from edge_kit.exporters.quiet import quiet_fds
    from edge_kit.generative.onnx_export import METADATA_KEY, _quantize_int4, _quantize_int8, prune, untie_lm_head

    if precision != "fp32":
        untie_lm_head(model)
    if precision == "int4":
        with quiet_fds():
            model = _quantize_int4(model, group_size, False, 4)
    prune(model)
    entry = model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, meta
    onnx.save(model, str(path))
    if precision == "int8":
        with quiet_fds():
            _quantize_int8(path, path, False)


def export_speech_onnx(
    lm: SpeechSeq2Seq, dest: str | Path, *, cache_len: int = 128, precision: str = "fp32", group_size: int = 32
) -> tuple[GenerativeArtifact, Any]:
    """Write the folder `dest` (encoder.onnx + decoder.onnx); returns the artifact record and its
    reference (fp32 source; for int4 the source with MatMulNBits' rounding on its linear weights)."""
    from edge_kit.exporters.quiet import quiet_fds
    from edge_kit.generative.onnx_export import _short

    layout = lm.layout(cache_len)
    dest = Path(dest)
    start = time.perf_counter()
    try:
        with quiet_fds():
            graphs = export_graphs(lm, layout)
    except Exception as exc:  # noqa: BLE001 - torch.export / onnxscript raise many types
        raise ExportError(f"ONNX export of the Whisper encoder-decoder failed: {_short(exc)}") from None
    dest.mkdir(parents=True, exist_ok=True)
    meta = metadata(lm, layout, precision)
    for name, model in graphs.items():
        _write(model, dest / name, meta, precision, group_size)
    reference, quant = lm.model, {}
    if precision == "int4":
        from edge_kit.generative.quantize import rtn_reference

        reference = rtn_reference(lm.model, 4, group_size, embeddings=False)
        quant = {"linear": "MatMulNBits 4-bit asymmetric RTN", "group_size": group_size, "accuracy_level": 4}
    elif precision == "int8":
        quant = {"linear": "dynamic int8 (MatMulInteger, per-channel weights)"}
    if quant:
        quant["embedding"] = "fp32"
    artifact = GenerativeArtifact(
        path=dest,
        format="onnx",
        precision=precision,
        family=lm.family.name,
        layout=layout,
        max_prefill=1,
        size_bytes=sum((dest / name).stat().st_size for name in FILES),
        export_seconds=time.perf_counter() - start,
        quantization=quant,
        notes=("a folder: encoder.onnx (once per utterance) + decoder.onnx (once per token)",),
    )
    return artifact, reference
