"""torch wrappers that make a Whisper model traceable: the encoder, and the text decoder with a static KV cache.

- `SpeechEncoder`: `input_features [1, mels, frames] -> encoder_hidden_states [1, positions, d_model]`.
- `BufferCacheSpeechDecoder`: `(decoder_input_ids [1, 1], encoder_hidden_states, cache_position [1])
  -> logits [1, vocab]`, the self-attention cache in mutable buffers (ExecuTorch). The
  cross-attention keys/values are recomputed from `encoder_hidden_states` at every step (as
  optimum-executorch's Whisper does): no second cache to carry between the two methods.
- `IOCacheSpeechDecoder`: the same with the self-attention cache as inputs/outputs (ONNX).
- `EagerSpeechReference`: the source model as `check_greedy` calls a reference: `model(input_ids=)`
  recomputes the whole decoder context (no cache) over fixed encoder features.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import torch

from edge_kit.generative.results import KVLayout


class SpeechEncoder(torch.nn.Module):
    def __init__(self, model: Any) -> None:
        super().__init__()
        self.encoder = model.get_encoder()

    def forward(self, input_features: torch.Tensor) -> torch.Tensor:
        return self.encoder(input_features=input_features).last_hidden_state  # type: ignore[no-any-return]


def _static_cache(config: Any, layout: KVLayout) -> Any:
    from transformers.cache_utils import StaticCache

    cache = StaticCache(config=config, max_cache_len=layout.cache_len)
    cache.early_initialization(1, layout.num_kv_heads, layout.head_dim, torch.float32, torch.device("cpu"))
    return cache


def _decode(model: Any, ids: torch.Tensor, hidden: torch.Tensor, position: torch.Tensor, cache: Any) -> torch.Tensor:
    from transformers.cache_utils import DynamicCache, EncoderDecoderCache

    for layer in cache.layers:
        layer.cumulative_length.copy_(position[0])
    both = EncoderDecoderCache(cache, DynamicCache())  # a fresh cross-attention cache: recomputed each call
    out = model.get_decoder()(
        input_ids=ids, encoder_hidden_states=hidden, cache=both, use_cache=True, position_ids=position.unsqueeze(0)
    )
    return model.proj_out(out[0])[:, -1, :]  # type: ignore[no-any-return]


class BufferCacheSpeechDecoder(torch.nn.Module):
    """The self-attention cache as registered buffers, mutated in place (state between calls)."""

    def __init__(self, model: Any, layout: KVLayout) -> None:
        super().__init__()
        self.model = model
        self.cache = _static_cache(model.config, layout)
        for i, layer in enumerate(self.cache.layers):
            self.register_buffer(f"key_cache_{i}", layer.keys, persistent=False)
            self.register_buffer(f"value_cache_{i}", layer.values, persistent=False)
            self.register_buffer(f"cache_length_{i}", layer.cumulative_length, persistent=False)

    def forward(
        self, decoder_input_ids: torch.Tensor, encoder_hidden_states: torch.Tensor, cache_position: torch.Tensor
    ) -> torch.Tensor:
        return _decode(self.model, decoder_input_ids, encoder_hidden_states, cache_position, self.cache)


class IOCacheSpeechDecoder(torch.nn.Module):
    """The self-attention cache as explicit inputs (`past`) and outputs (the updated cache)."""

    def __init__(self, model: Any, layout: KVLayout) -> None:
        super().__init__()
        self.model, self.layout = model, layout

    def forward(
        self,
        decoder_input_ids: torch.Tensor,
        encoder_hidden_states: torch.Tensor,
        cache_position: torch.Tensor,
        past: list[torch.Tensor],
    ) -> tuple[torch.Tensor, ...]:
        cache = _static_cache(self.model.config, self.layout)
        for i, layer in enumerate(cache.layers):
            layer.keys, layer.values = past[2 * i].clone(), past[2 * i + 1].clone()
        logits = _decode(self.model, decoder_input_ids, encoder_hidden_states, cache_position, cache)
        return (logits, *[t for layer in cache.layers for t in (layer.keys, layer.values)])

    def empty_cache(self) -> list[torch.Tensor]:
        shape = (1, self.layout.num_kv_heads, self.layout.cache_len, self.layout.head_dim)
        return [torch.zeros(shape) for _ in range(2 * self.layout.num_layers)]


class EagerSpeechReference:
    """`reference(input_ids=[[...]], use_cache=False).logits` of the source over fixed features,
    the whole decoder context recomputed each call (what `check_greedy` compares against)."""

    def __init__(self, model: Any, features: Any) -> None:
        self.model = model
        with torch.no_grad():
            self.hidden = model.get_encoder()(input_features=torch.as_tensor(features)).last_hidden_state

    def __call__(self, input_ids: torch.Tensor, use_cache: bool = False) -> Any:
        from transformers.modeling_outputs import BaseModelOutput

        with torch.no_grad():
            out = self.model(
                encoder_outputs=BaseModelOutput(last_hidden_state=self.hidden),
                decoder_input_ids=input_ids,
                use_cache=use_cache,
            )
        return SimpleNamespace(logits=out.logits)
