"""Export a Whisper model to a format, then check N greedy steps in the artifact's runtime.

The check is the decoder-only one (`validate.check_greedy`, same near-tie rule): from the
decoder start token, over fixed seeded input features, the artifact (encoder once, then the
cached one-token decoder) against torch eager recomputing the whole decoder context — the fp32
source, or for int8/int4 the source with the same weight quantization.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edge_kit.errors import UnsupportedError, UsageError
from edge_kit.generative.results import PRECISIONS, GenerativeArtifact, GreedyCheck
from edge_kit.generative.seq2seq import SpeechSeq2Seq

FEATURES_SEED = 0


def _exporter(fmt: str) -> Any:
    if fmt == "executorch":
        from edge_kit.generative.seq2seq_executorch import export_speech_pte

        return export_speech_pte
    if fmt == "onnx":
        from edge_kit.generative.seq2seq_onnx import export_speech_onnx

        return export_speech_onnx
    raise UnsupportedError(f"no encoder-decoder export to {fmt}", hint="formats: executorch, onnx")


def export_speech(
    lm: SpeechSeq2Seq,
    dest: str | Path,
    *,
    fmt: str,
    cache_len: int = 128,
    precision: str = "fp32",
    validate_steps: int = 8,
    prompt: list[int] | None = None,
    **options: Any,
) -> tuple[GenerativeArtifact, GreedyCheck | None]:
    """Export `lm` to `dest` (.pte file or ONNX folder) and check `validate_steps` greedy steps (0: none)."""
    if precision not in PRECISIONS:
        raise UsageError(f"unknown precision {precision!r}", hint=f"precisions: {', '.join(PRECISIONS)}")
    ids = lm.encode(prompt)
    if len(ids) + validate_steps > cache_len:
        raise UsageError(f"{len(ids)} prompt + {validate_steps} validation tokens exceed the cache of {cache_len}")
    artifact, reference = _exporter(fmt)(lm, dest, cache_len=cache_len, precision=precision, **options)
    if validate_steps <= 0:
        return artifact, None
    return artifact, check_speech(artifact, lm, reference, ids, validate_steps)


def check_speech(
    artifact: GenerativeArtifact, lm: SpeechSeq2Seq, reference: Any, prompt: list[int], steps: int
) -> GreedyCheck:
    """`check_greedy` of the artifact in its runtime against `reference` over the seeded features."""
    from edge_kit.generative.api import TIE_TOLERANCE
    from edge_kit.generative.runtime import open_speech_decoder
    from edge_kit.generative.seq2seq import seeded_features
    from edge_kit.generative.seq2seq_modules import EagerSpeechReference
    from edge_kit.generative.validate import check_greedy

    decoder = open_speech_decoder(artifact.path)
    features = seeded_features(lm.features_shape, FEATURES_SEED)
    label = "source fp32" if reference is lm.model else f"source with the artifact's {artifact.precision} weights"
    return check_greedy(
        decoder,
        EagerSpeechReference(reference, features),
        prompt,
        steps=steps,
        reference_label=label,
        tie_tolerance=TIE_TOLERANCE[artifact.precision],
    )
