"""Loading decoders, and the one-line errors for inputs the generative path cannot take."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_kit.errors import ModelLoadError, TrustError, UnsupportedError, UsageError
from edge_kit.generative import load_causal_lm, random_causal_lm


def _one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text and text
    return text


def test_random_weights_are_seeded() -> None:
    import torch

    a, b = random_causal_lm("llama-tiny", seed=3), random_causal_lm("llama-tiny", seed=3)
    c = random_causal_lm("llama-tiny", seed=4)
    wa, wb, wc = (m.model.model.layers[0].mlp.up_proj.weight for m in (a, b, c))
    assert torch.equal(wa, wb) and not torch.equal(wa, wc)


def test_gpt2_conv1d_becomes_linear_with_the_same_outputs() -> None:
    import torch
    from transformers import GPT2LMHeadModel

    lm = random_causal_lm("gpt2-tiny", seed=0)
    torch.manual_seed(0)
    original = GPT2LMHeadModel(lm.model.config).eval()  # same seed, same init order: same weights
    ids = torch.tensor([[1, 5, 9, 200]])
    with torch.no_grad():
        assert torch.allclose(lm.model(ids).logits, original(ids).logits, atol=1e-5)
    assert lm.tied_embeddings and isinstance(lm.model.transformer.h[0].attn.c_attn, torch.nn.Linear)


def test_checkpoint_folder_round_trip(tmp_path: Path) -> None:
    import torch

    lm = random_causal_lm("qwen2-tiny", seed=1)
    lm.model.save_pretrained(tmp_path / "ckpt", safe_serialization=True)
    loaded = load_causal_lm(tmp_path / "ckpt")
    ids = torch.tensor([[3, 4, 5]])
    with torch.no_grad():
        assert torch.allclose(loaded.model(ids).logits, lm.model(ids).logits, atol=1e-6)
    assert loaded.family.name == "qwen2" and loaded.tokenizer is None


def test_a_bert_config_is_not_a_causal_lm(tmp_path: Path) -> None:
    from transformers import BertConfig

    BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64).save_pretrained(
        tmp_path
    )
    with pytest.raises(UnsupportedError) as err:
        load_causal_lm(tmp_path)
    assert "not a decoder-only causal language model" in _one_line(err.value)
    with pytest.raises(UnsupportedError):
        random_causal_lm("bert", hidden_size=32, num_hidden_layers=1, num_attention_heads=2)


def test_pickled_weights_are_refused_unless_trusted(tmp_path: Path) -> None:
    import torch
    from transformers import GPT2LMHeadModel

    lm = random_causal_lm("gpt2-tiny", seed=0)
    lm.model.config.save_pretrained(tmp_path)
    torch.save(GPT2LMHeadModel(lm.model.config).state_dict(), tmp_path / "pytorch_model.bin")
    with pytest.raises(TrustError) as err:
        load_causal_lm(tmp_path)
    assert "pickled weights" in _one_line(err.value)
    assert load_causal_lm(tmp_path, trust_pickle=True).family.name == "gpt2"


def test_missing_folder_and_missing_weights(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError):
        load_causal_lm(tmp_path / "nope")
    random_causal_lm("llama-tiny").model.config.save_pretrained(tmp_path)
    with pytest.raises(ModelLoadError) as err:
        load_causal_lm(tmp_path)
    assert "no weights" in _one_line(err.value)


def test_cache_longer_than_the_positions_is_refused() -> None:
    lm = random_causal_lm("gpt2-tiny", n_positions=64)
    assert lm.layout(64).cache_len == 64
    with pytest.raises(UsageError) as err:
        lm.layout(65)
    assert "beyond the model's 64 positions" in _one_line(err.value)


def test_a_text_prompt_needs_a_tokenizer() -> None:
    lm = random_causal_lm("llama-tiny")
    assert lm.encode([1, 2, 3]) == [1, 2, 3]
    with pytest.raises(UsageError) as err:
        lm.encode("hello")
    assert "needs a tokenizer" in _one_line(err.value)
    with pytest.raises(UsageError):
        lm.encode([1, 10**6])


def test_unknown_preset_names_the_known_ones() -> None:
    with pytest.raises(UsageError) as err:
        random_causal_lm("llama-huge")
    assert "llama-tiny" in _one_line(err.value) and "presets" in _one_line(err.value)


def test_export_decoder_refuses_bad_requests_before_exporting(tmp_path: Path) -> None:
    from edge_kit.generative import export_decoder

    lm = random_causal_lm("llama-tiny")
    with pytest.raises(UsageError, match="format"):
        export_decoder(lm, tmp_path / "m.bin")
    with pytest.raises(UsageError, match="precision"):
        export_decoder(lm, tmp_path / "m.onnx", precision="int3")
    with pytest.raises(UsageError, match="needs a tokenizer"):
        export_decoder(lm, tmp_path / "m.onnx", prompt="hello")
    with pytest.raises(UsageError, match="beyond the model's"):
        export_decoder(lm, tmp_path / "m.onnx", cache_len=10_000)
    assert not list(tmp_path.iterdir())


def test_near_tie_rule_accepts_only_ties_within_the_tolerance() -> None:
    import numpy as np

    from edge_kit.generative.validate import _ties

    ref = [np.array([1.0, 0.99, 0.0]), np.array([0.0, 1.0, 0.5])]
    tokens = [0, 1]
    tie = [np.array([0.99, 1.0, 0.0]), np.array([0.0, 1.0, 0.5])]  # step 1 flips a 0.01 tie
    assert _ties(tie, ref, tokens, 0.05) == 1
    assert _ties(tie, ref, tokens, 0.001) is None  # the same flip beyond a tighter tolerance
    wrong = [np.array([0.0, 0.0, 1.0]), np.array([0.0, 1.0, 0.5])]  # chooses a token the reference ranks 1.0 lower
    assert _ties(wrong, ref, tokens, 0.05) is None
    drift = [np.array([1.0, 0.99, 0.0]), np.array([0.0, 1.2, 0.5])]  # same tokens, a logit 0.2 off
    assert _ties(drift, ref, tokens, 0.05) is None
    assert _ties(ref, ref, tokens, 0.05) == 0
