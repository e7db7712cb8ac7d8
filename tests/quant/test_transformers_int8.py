"""transformers models at int8 in every format: embeddings quantized, index inputs left alone,
tied weights accounted for. Tiny BERT / GPT-2 configs with random weights (built offline)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sample_models import transformers_tiny as tm
from tests.quant.conftest import quantize

VOCAB, SEQ = 4000, 32


@pytest.fixture(scope="module")
def bert(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bert")
    return {
        "model": tm.bert(folder / "bert.pt2", vocab=VOCAB, seq=SEQ),
        "calibration": tm.token_batches(folder / "calib.npz", 16, VOCAB, SEQ, seed=0),
        "eval": tm.token_batches(folder / "eval.npz", 8, VOCAB, SEQ, seed=1),
    }


@pytest.mark.parametrize("fmt", ["executorch", "tflite", "onnx"])
def test_bert_int8_is_a_third_of_fp32_and_validates(bert: dict[str, Path], out: Path, fmt: str):
    """Embedding tables int8 (weight-only lookups), ids never observed, validation within int8 tolerance."""
    result = quantize(
        bert["model"], fmt, "int8", out, calibration=bert["calibration"], sample_inputs=bert["eval"], num_samples=8
    )
    assert result.status == "ok", result.validation["reasons"]
    fp32_bytes = tm.float_weight_bytes(bert["model"])  # an fp32 artifact holds at least these
    assert result.artifact.stat().st_size <= 0.35 * fp32_bytes
    share = result.manifest["quantization"]["int8_share"]
    assert share["weights"] >= 0.85 and share["macs"] >= 0.8, share
    assert f"[{VOCAB}, 64]" not in (share["largest_float"] or ""), share  # the vocabulary table is int8
    if fmt == "onnx":
        _layer_norms_stay_float(result)


def _layer_norms_stay_float(result) -> None:
    """A transformer's static int8 ONNX quantizes MatMul/Gemm/Gather/Conv only: LayerNorm reads float."""
    import onnx

    assert result.manifest["quantization"]["op_types"]["quantized"] == ["MatMul", "Gemm", "Gather", "Conv"]
    graph = onnx.load(str(result.artifact)).graph
    norm_inputs = {n.input[0] for n in graph.node if n.op_type == "LayerNormalization"}
    dequantized = {n.output[0] for n in graph.node if n.op_type == "DequantizeLinear"}
    assert norm_inputs and not norm_inputs & dequantized


def test_gpt2_tied_embedding_is_reported_stored_twice_in_executorch(out: Path, capsys: pytest.CaptureFixture):
    model = tm.gpt2(out / "gpt2.pt2", vocab=VOCAB)
    result = quantize(model, "executorch", "fp32", out, input_range=(0, VOCAB - 1))
    shared = result.manifest["artifact"]["shared_weights"]
    assert shared["tied"] == [["m.transformer.wte.weight", "m.lm_head.weight"]]
    table = VOCAB * 64 * 4
    assert shared["stored"] == "twice" and shared["stored_twice_bytes"] >= table and "ExecuTorch" in shared["why"]
    assert result.artifact.stat().st_size >= 2 * table  # the honest size: both copies are in the file
    assert "stored twice" in capsys.readouterr().err
