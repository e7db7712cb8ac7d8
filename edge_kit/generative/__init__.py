"""Generative models: decoder-only causal LMs exported with a static KV cache.

Load (`load_causal_lm`, `random_causal_lm`), export (`export_pte`, `export_onnx`, `export_tflite`)
at fp32/int8/int4, check greedy decoding token for token (`check_greedy`), measure next-token
quality (`measure_quality`) and profile prefill/decode (`profile_host`). torch, transformers and
the runtimes are imported by the functions that need them.
"""

from __future__ import annotations

from typing import Any

from edge_kit.generative.results import (
    PRECISIONS,
    GenerationProfile,
    GenerativeArtifact,
    GreedyCheck,
    KVLayout,
    QualityResult,
)

_LAZY = {
    "CausalLM": "edge_kit.generative.source",
    "load_causal_lm": "edge_kit.generative.source",
    "random_causal_lm": "edge_kit.generative.source",
    "export_pte": "edge_kit.generative.executorch_export",
    "export_onnx": "edge_kit.generative.onnx_export",
    "export_tflite": "edge_kit.generative.tflite_export",
    "export_decoder": "edge_kit.generative.api",
    "open_decoder": "edge_kit.generative.runtime",
    "check_greedy": "edge_kit.generative.validate",
    "measure_quality": "edge_kit.generative.validate",
    "fixed_sequence": "edge_kit.generative.validate",
    "profile_host": "edge_kit.generative.profile",
}

__all__ = [
    "PRECISIONS",
    "GenerationProfile",
    "GenerativeArtifact",
    "GreedyCheck",
    "KVLayout",
    "QualityResult",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'edge_kit.generative' has no attribute {name!r}")
