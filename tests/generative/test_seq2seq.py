"""Whisper sources: presets, checkpoint folders, routing from the generative entry points."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_kit.errors import TrustError, UsageError
from edge_kit.generative.request import is_generative, load_source
from edge_kit.generative.seq2seq import SpeechSeq2Seq, is_speech_source, load_whisper, random_whisper


@pytest.fixture(scope="module")
def mini() -> SpeechSeq2Seq:
    return random_whisper("whisper-mini", seed=0)


def test_presets_are_routed_to_the_encoder_decoder_path(mini: SpeechSeq2Seq) -> None:
    assert is_speech_source("preset:whisper-tiny") and is_generative("preset:whisper-tiny")
    assert not is_speech_source("preset:llama-tiny") and is_generative("preset:llama-tiny")
    src = load_source("preset:whisper-mini")
    assert isinstance(src.lm, SpeechSeq2Seq) and (src.kind, src.name) == ("preset", "whisper-mini")
    assert mini.features_shape == (1, 80, 3000) and mini.hidden_shape == (1, 1500, 64)
    assert mini.tied_embeddings and mini.kind == "encoder-decoder"


def test_the_tiny_preset_has_whisper_tiny_shapes() -> None:
    from transformers import WhisperConfig

    from edge_kit.generative.seq2seq import WHISPER_PRESETS

    cfg = WhisperConfig(**WHISPER_PRESETS["whisper-tiny"])
    shape = (cfg.d_model, cfg.encoder_layers, cfg.decoder_layers, cfg.encoder_attention_heads, cfg.encoder_ffn_dim)
    assert shape == (384, 4, 4, 6, 1536)
    assert (cfg.vocab_size, cfg.num_mel_bins, cfg.max_source_positions, cfg.max_target_positions) == (
        51865,
        80,
        1500,
        448,
    )


def test_random_weights_are_seeded(mini: SpeechSeq2Seq) -> None:
    import torch

    again, other = random_whisper("whisper-mini", seed=0), random_whisper("whisper-mini", seed=1)
    w = [m.model.get_decoder().layers[0].fc1.weight for m in (mini, again, other)]
    assert torch.equal(w[0], w[1]) and not torch.equal(w[0], w[2])


def test_a_cache_beyond_the_decoder_positions_is_one_line(mini: SpeechSeq2Seq) -> None:
    with pytest.raises(UsageError, match="beyond the model's 448 decoder positions") as info:
        mini.layout(449)
    assert "\n" not in str(info.value) and info.value.exit_code == 2
    assert mini.layout(448).cache_len == 448


def test_a_checkpoint_folder_loads_and_pickles_are_refused(mini: SpeechSeq2Seq, tmp_path: Path) -> None:
    import torch

    folder = tmp_path / "whisper"
    mini.model.save_pretrained(str(folder))
    assert is_speech_source(folder) and is_generative(folder)
    src = load_source(folder)
    assert src.kind == "checkpoint" and isinstance(src.lm, SpeechSeq2Seq)
    a, b = (m.get_decoder().layers[0].fc1.weight for m in (mini.model, src.lm.model))
    assert torch.equal(a, b)
    for weights in folder.glob("*.safetensors"):
        weights.rename(weights.with_suffix(".bin"))
    with pytest.raises(TrustError, match="pickled weights"):
        load_whisper(folder)
