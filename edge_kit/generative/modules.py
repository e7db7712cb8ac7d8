"""torch wrappers that give a transformers decoder a static KV cache torch.export can trace.

Both take `input_ids` [1, T] and `cache_position` [T] (the absolute positions of those
tokens) and return the logits of the last token [1, vocab]; T = prompt length for the
prefill, 1 for a decode step. The same graph serves both, with T dynamic.

- `BufferCacheLM` keeps the cache in mutable buffers (ExecuTorch: the state lives in the program).
- `IOCacheLM` takes the cache as inputs and returns the updated cache (ONNX: the runtime owns it).
"""

from __future__ import annotations

from typing import Any

import torch

from edge_kit.generative.results import KVLayout


def static_cache(config: Any, layout: KVLayout) -> Any:
    """A transformers StaticCache of `layout.cache_len` positions, full-attention layers only
    (sliding-window layers behave the same while the cache is not longer than the window)."""
    from transformers.cache_utils import StaticCache, StaticLayer, StaticSlidingWindowLayer

    cache = StaticCache(max_cache_len=layout.cache_len, config=config)
    for i, layer in enumerate(cache.layers):
        if isinstance(layer, StaticSlidingWindowLayer):
            cache.layers[i] = StaticLayer(layout.cache_len)
    return cache


def _run(model: Any, input_ids: torch.Tensor, cache_position: torch.Tensor, cache: Any) -> torch.Tensor:
    for layer in cache.layers:
        layer.cumulative_length.copy_(cache_position[0])
    out = model(
        input_ids=input_ids,
        position_ids=cache_position.unsqueeze(0),
        cache=cache,
        use_cache=True,
        logits_to_keep=1,
    )
    return out.logits[:, -1, :]


class BufferCacheLM(torch.nn.Module):
    """The cache as registered buffers, mutated in place (state carried between calls)."""

    def __init__(self, model: Any, layout: KVLayout) -> None:
        super().__init__()
        self.model = model
        self.cache = static_cache(model.config.get_text_config(), layout)
        self.cache.early_initialization(1, layout.num_kv_heads, layout.head_dim, torch.float32, "cpu")
        for i, layer in enumerate(self.cache.layers):
            self.register_buffer(f"key_cache_{i}", layer.keys, persistent=False)
            self.register_buffer(f"value_cache_{i}", layer.values, persistent=False)
            self.register_buffer(f"cache_length_{i}", layer.cumulative_length, persistent=False)

    def forward(self, input_ids: torch.Tensor, cache_position: torch.Tensor) -> torch.Tensor:
        return _run(self.model, input_ids, cache_position, self.cache)

    def reset(self) -> None:
        for layer in self.cache.layers:
            layer.keys.zero_()
            layer.values.zero_()


class IOCacheLM(torch.nn.Module):
    """The cache as explicit inputs (`past`, keys and values per layer) and outputs (the updated cache)."""

    def __init__(self, model: Any, layout: KVLayout) -> None:
        super().__init__()
        self.model = model
        self.layout = layout
        self.config = model.config.get_text_config()

    def _cache(self, past: list[torch.Tensor], start: torch.Tensor) -> Any:
        cache = static_cache(self.config, self.layout)
        for i, layer in enumerate(cache.layers):
            # The layer's own lazy initialisation, by hand: the cache comes in as inputs.
            layer.keys, layer.values = past[2 * i].clone(), past[2 * i + 1].clone()
            layer.cumulative_length = start.clone()
            layer.device = layer.keys.device
            layer.batch_size, layer.num_heads = 1, self.layout.num_kv_heads
            layer.k_head_dim = layer.v_head_dim = self.layout.head_dim
            layer.is_initialized = True
        return cache

    def forward(
        self, input_ids: torch.Tensor, cache_position: torch.Tensor, past: list[torch.Tensor]
    ) -> tuple[torch.Tensor, ...]:
        cache = self._cache(past, cache_position[0])
        logits = _run(self.model, input_ids, cache_position, cache)
        present = [t for layer in cache.layers for t in (layer.keys, layer.values)]
        return (logits, *present)

    def empty_cache(self) -> list[torch.Tensor]:
        shape = (1, self.layout.num_kv_heads, self.layout.cache_len, self.layout.head_dim)
        return [torch.zeros(shape) for _ in range(2 * self.layout.num_layers)]


def example_inputs(layout: KVLayout, length: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(input_ids [1, length], cache_position [length]) for tracing."""
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, layout.vocab_size, (1, length), generator=generator)
    return ids, torch.arange(length)
