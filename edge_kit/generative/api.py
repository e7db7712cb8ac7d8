"""One call for the CLI and the Python API: export a decoder to a format, then validate it.

Every export is checked the way edgekit checks all exports: the artifact runs in its real
runtime and N greedy steps are compared token for token with the model it implements.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edge_kit.errors import UnsupportedError, UsageError
from edge_kit.generative.results import PRECISIONS, GenerativeArtifact, GreedyCheck
from edge_kit.generative.source import CausalLM

SUFFIXES = {".pte": "executorch", ".onnx": "onnx", ".tflite": "tflite"}
# Logit tolerance of the greedy check's near-tie rule: fp32 runs the same maths; int8/int4
# kernels quantize activations on the fly (XNNPACK 8da4w, MatMulNBits level 4, LiteRT dynamic).
TIE_TOLERANCE = {"fp32": 1e-3, "int8": 0.05, "int4": 0.05}


def _exporter(fmt: str) -> Any:
    if fmt == "executorch":
        from edge_kit.generative.executorch_export import export_pte

        return export_pte
    if fmt == "onnx":
        from edge_kit.generative.onnx_export import export_onnx

        return export_onnx
    if fmt == "tflite":
        from edge_kit.generative.tflite_export import export_tflite

        return export_tflite
    raise UnsupportedError(f"no generative export to {fmt!r}", hint=f"formats: {', '.join(SUFFIXES.values())}")


def export_decoder(
    lm: CausalLM,
    dest: str | Path,
    *,
    fmt: str | None = None,
    cache_len: int = 128,
    precision: str = "fp32",
    validate_steps: int = 8,
    prompt: list[int] | str | None = None,
    **options: Any,
) -> tuple[GenerativeArtifact, GreedyCheck | None]:
    """Export `lm` to `dest` (format from `fmt` or the suffix) and check `validate_steps`
    greedy steps in the artifact's runtime against its reference (0: no check)."""
    dest = Path(dest)
    fmt = fmt or SUFFIXES.get(dest.suffix)
    if fmt is None:
        raise UsageError(f"cannot tell the format of {dest.name}", hint="use .pte, .onnx or .tflite, or pass fmt")
    if precision not in PRECISIONS:
        raise UsageError(f"unknown precision {precision!r}", hint=f"precisions: {', '.join(PRECISIONS)}")
    ids = lm.encode(prompt) if prompt is not None else None  # a bad prompt fails before the export
    artifact, reference = _exporter(fmt)(lm, dest, cache_len=cache_len, precision=precision, **options)
    if validate_steps <= 0:
        return artifact, None
    from edge_kit.generative.runtime import open_decoder
    from edge_kit.generative.validate import check_greedy, fixed_sequence

    prompt_ids = ids or fixed_sequence(artifact.layout.vocab_size, 8, seed=0)
    label = "source fp32" if reference is lm.model else f"source with the artifact's {precision} weights"
    check = check_greedy(
        open_decoder(dest),
        reference,
        prompt_ids,
        steps=validate_steps,
        reference_label=label,
        tie_tolerance=TIE_TOLERANCE[precision],
    )
    return artifact, check
