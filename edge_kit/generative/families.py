"""The decoder-only families the generative engine exports, and named config shapes for random models.

A family is a transformers `model_type`; presets are shapes for models built from a config
with seeded random weights (tests, benchmarks): no weights are ever downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edge_kit.errors import UsageError


@dataclass(frozen=True)
class Family:
    name: str  # transformers model_type
    label: str
    gqa: bool  # has num_key_value_heads


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family("llama", "Llama", True),
        Family("qwen2", "Qwen2", True),
        Family("gemma", "Gemma", True),
        Family("gpt2", "GPT-2", False),
        Family("phi", "Phi", True),
        Family("phi3", "Phi-3", True),
    )
}
SUPPORTED = ", ".join(f.label for f in FAMILIES.values())


def _shape(layers: int, hidden: int, heads: int, kv_heads: int, ffn: int, vocab: int, positions: int) -> dict[str, Any]:
    return {
        "num_hidden_layers": layers,
        "hidden_size": hidden,
        "num_attention_heads": heads,
        "num_key_value_heads": kv_heads,
        "intermediate_size": ffn,
        "vocab_size": vocab,
        "max_position_embeddings": positions,
        "head_dim": hidden // heads,
    }


def _gpt2(layers: int, hidden: int, heads: int, vocab: int, positions: int) -> dict[str, Any]:
    return {
        "n_layer": layers,
        "n_embd": hidden,
        "n_head": heads,
        "n_inner": 4 * hidden,
        "vocab_size": vocab,
        "n_positions": positions,
    }


# name -> (model_type, config kwargs). Token ids are cleared: random vocabularies have no specials.
PRESETS: dict[str, tuple[str, dict[str, Any]]] = {
    "llama-tiny": ("llama", _shape(2, 64, 4, 2, 128, 512, 256)),
    "llama-small": ("llama", _shape(4, 256, 8, 4, 704, 32000, 1024)),
    "qwen2-tiny": ("qwen2", _shape(2, 64, 4, 2, 128, 512, 256)),
    "gemma-tiny": ("gemma", _shape(2, 64, 4, 1, 128, 512, 256)),
    "phi-tiny": ("phi", {**_shape(2, 64, 4, 4, 128, 512, 256), "partial_rotary_factor": 0.5}),
    "phi3-tiny": ("phi3", _shape(2, 64, 4, 4, 128, 512, 256)),
    "gpt2-tiny": ("gpt2", _gpt2(2, 64, 4, 512, 256)),
    "gpt2-small": ("gpt2", _gpt2(12, 768, 12, 50257, 1024)),  # the real GPT-2 small shape
}


def preset(name: str, **overrides: Any) -> tuple[str, dict[str, Any]]:
    """(model_type, config kwargs) of a named preset, with overrides (e.g. n_layer=4)."""
    if name not in PRESETS:
        raise UsageError(f"unknown model preset {name!r}", hint=f"known presets: {', '.join(PRESETS)}")
    model_type, kwargs = PRESETS[name]
    return model_type, {**kwargs, **overrides}


def build_config(model_type: str, kwargs: dict[str, Any]) -> Any:
    """A transformers config of `model_type` (no special tokens: random vocabularies have none)."""
    from transformers import AutoConfig

    specials = {"bos_token_id": None, "eos_token_id": None, "pad_token_id": None}
    try:
        return AutoConfig.for_model(model_type, **{**specials, **kwargs})
    except ValueError:
        raise UsageError(
            f"{model_type!r} is neither a model preset nor a transformers model type",
            hint=f"presets: {', '.join(PRESETS)}; families: {', '.join(FAMILIES)}",
        ) from None


def check_family(config: Any) -> Family:
    """The family of a transformers config, or the one-line error saying why it is not exportable."""
    from edge_kit.errors import UnsupportedError

    model_type = getattr(config, "model_type", None) or "unknown"
    if model_type in FAMILIES:
        if getattr(config, "is_encoder_decoder", False):
            raise UnsupportedError(f"{model_type} config is an encoder-decoder", hint=f"supported: {SUPPORTED}")
        return FAMILIES[model_type]
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    encoder_only = getattr(config, "is_decoder", None) is False or getattr(config, "is_encoder_decoder", False)
    if model_type not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES or encoder_only:
        raise UnsupportedError(
            f"the model is a {model_type} model, not a decoder-only causal language model",
            hint=f"the generative path exports {SUPPORTED} families",
        )
    raise UnsupportedError(
        f"{model_type} is a causal LM family edgekit has not validated for KV-cache export",
        hint=f"supported: {SUPPORTED}",
    )
