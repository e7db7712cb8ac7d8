"""transformers models built from configs with random weights (offline), saved as `.pt2`.

BERT (sequence classification: input_ids and attention_mask, int64) and GPT-2 with its LM head
tied to the token embedding. Tests build them tiny; `benchmarks/bench_quantization.py
--transformers` at the sizes docs/quantization.md reports (BERT hidden 128, 2 layers, the
30,522-token vocabulary, 128 tokens; GPT-2 n_embd 128, 2 layers, 50,257 tokens).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def bert(path: Path, vocab: int = 4000, hidden: int = 64, seq: int = 32, layers: int = 2) -> Path:
    """A BertForSequenceClassification (4 labels) exported with torch.export."""
    import torch
    import transformers

    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=vocab,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=4 * hidden,
        max_position_embeddings=max(seq, 64),
        num_labels=4,
    )
    model = transformers.BertForSequenceClassification(config).eval()

    class Logits(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.m = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.m(input_ids=input_ids, attention_mask=attention_mask).logits

    ids = torch.randint(0, vocab, (1, seq))
    with torch.no_grad():
        torch.export.save(torch.export.export(Logits().eval(), (ids, torch.ones_like(ids))), path)
    return path


def gpt2(path: Path, vocab: int = 4000, hidden: int = 64, seq: int = 16, layers: int = 1) -> Path:
    """A GPT2LMHeadModel (tied embeddings) returning logits, exported with torch.export."""
    import torch
    import transformers

    torch.manual_seed(0)
    config = transformers.GPT2Config(
        vocab_size=vocab, n_embd=hidden, n_layer=layers, n_head=2, n_positions=max(seq, 32), tie_word_embeddings=True
    )
    model = transformers.GPT2LMHeadModel(config).eval()

    class Logits(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.m = model

        def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
            return self.m(input_ids=input_ids, use_cache=False).logits

    with torch.no_grad():
        torch.export.save(torch.export.export(Logits().eval(), (torch.randint(0, vocab, (1, seq)),)), path)
    return path


def token_batches(path: Path, n: int, vocab: int, seq: int, seed: int, mask: bool = True) -> Path:
    """An .npz of `n` token-id rows over the whole vocabulary (and attention masks padding the tail)."""
    rng = np.random.default_rng(seed)
    arrays = {"input_ids": rng.integers(0, vocab, size=(n, seq)).astype(np.int64)}
    if mask:
        attention = np.ones((n, seq), np.int64)
        for row in attention:
            row[rng.integers(seq // 2, seq + 1) :] = 0
        arrays["attention_mask"] = attention
    np.savez(path, **arrays)
    return path


def float_weight_bytes(pt2: Path) -> int:
    """Bytes of the source's float weights, each shared tensor once (an fp32 artifact holds at least these)."""
    import torch

    state = torch.export.load(str(pt2)).state_dict
    seen = {t.data_ptr(): t.numel() * t.element_size() for t in state.values() if t.is_floating_point()}
    return sum(seen.values())
