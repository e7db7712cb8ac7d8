"""Export tiny decoders with a static KV cache, run them in their real runtimes, and compare
8 greedy steps token for token with the model each artifact claims to implement."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from edge_kit.generative import check_greedy, fixed_sequence, measure_quality, open_decoder

pytestmark = pytest.mark.timeout(1800)

CASES = [
    ("llama", "onnx", "fp32"),
    ("llama", "onnx", "int4"),
    ("gpt2", "onnx", "fp32"),
    ("gpt2", "onnx", "int4"),
    ("llama", "pte", "fp32"),
    ("llama", "pte", "int4"),
]  # GPT-2 .pte (tied head) is exported by benchmarks/bench_llm.py: each .pte costs minutes here


@pytest.mark.parametrize(("model", "fmt", "precision"), CASES, ids=["-".join(c) for c in CASES])
def test_eight_greedy_steps_match(exports: Any, model: str, fmt: str, precision: str) -> None:
    artifact, reference = exports.get(model, fmt, precision)
    decoder = open_decoder(artifact.path)
    assert (decoder.cache_len, decoder.vocab) == (artifact.layout.cache_len, artifact.layout.vocab_size)
    prompt = fixed_sequence(artifact.layout.vocab_size, 12, seed=5)
    check = check_greedy(decoder, reference, prompt, steps=8)
    assert check.status == "ok", check
    assert check.matched_steps == check.forced_matches == 8 and len(check.artifact_tokens) == 8
    # fp32 runs the same maths; int4 differs from its weight-quantized torch twin by the kernels'
    # int8 activations (XNNPACK 8da4w, MatMulNBits accuracy level 4), quantized on the fly.
    bound = {"fp32": 1e-4, "int4": 0.05}[precision]
    assert check.max_abs_logit_diff < bound and check.forced_max_abs_logit_diff < bound, check


@pytest.mark.parametrize("fmt", ["onnx", "pte"])
def test_int4_is_at_most_a_fifth_of_fp32(exports: Any, fmt: str) -> None:
    fp32, _ = exports.get("llama", fmt, "fp32")
    int4, _ = exports.get("llama", fmt, "int4")
    ratio = int4.size_bytes / fp32.size_bytes
    assert int4.path.stat().st_size == int4.size_bytes
    assert ratio <= 0.2, (fmt, fp32.size_bytes, int4.size_bytes)


def test_int4_quality_against_fp32_is_measured_in_the_runtime(exports: Any, tiny_lms: dict[str, Any]) -> None:
    artifact, _ = exports.get("llama", "onnx", "int4")
    tokens = fixed_sequence(artifact.layout.vocab_size, 32, seed=7)
    fp32 = measure_quality(
        open_decoder(exports.get("llama", "onnx", "fp32")[0].path), tiny_lms["llama"].model, tokens, "t"
    )
    int4 = measure_quality(open_decoder(artifact.path), tiny_lms["llama"].model, tokens, "t")
    assert fp32.agreement == 1.0 and fp32.max_abs_logit_diff < 1e-4
    assert fp32.perplexity == pytest.approx(fp32.reference_perplexity, rel=1e-5)
    assert 0.0 < int4.max_abs_logit_diff and int4.perplexity != pytest.approx(int4.reference_perplexity, rel=1e-7)
    assert 0.5 <= int4.agreement <= 1.0


def test_the_tied_gpt2_weight_is_stored_once_in_int4_onnx(exports: Any) -> None:
    import onnx

    artifact, _ = exports.get("gpt2", "onnx", "int4")
    model = onnx.load(str(artifact.path))
    ops = {n.op_type for n in model.graph.node}
    assert {"MatMulNBits", "GatherBlockQuantized"} <= ops
    weights = {t.name for t in model.graph.initializer}
    fp32_matmuls = [n.name for n in model.graph.node if n.op_type == "MatMul" and n.input[1] in weights]
    assert not fp32_matmuls  # every constant-weight MatMul, the LM head included, became MatMulNBits
    fp32_weights = [t for t in model.graph.initializer if t.data_type == onnx.TensorProto.FLOAT and len(t.dims) == 2]
    assert all(min(t.dims) < 64 or "scales" in t.name for t in fp32_weights), [t.name for t in fp32_weights]
    assert any("stored once at 4 bits" in note for note in artifact.notes), artifact.notes
    vocab, hidden = artifact.layout.vocab_size, 64
    big = [
        t for t in model.graph.initializer if np.prod(t.dims) * (4 if t.data_type == 1 else 1) >= vocab * hidden // 2
    ]
    assert len(big) == 1, [(t.name, list(t.dims)) for t in big]  # one copy of the tied weight, 4-bit packed


def test_a_prompt_beyond_the_cache_is_refused(exports: Any) -> None:
    from edge_kit.harness.harness_generate import GenerationError, greedy

    artifact, _ = exports.get("llama", "onnx", "fp32")
    decoder = open_decoder(artifact.path)
    with pytest.raises(GenerationError, match="do not fit the cache"):
        greedy(decoder, list(range(artifact.layout.cache_len)), 2)
