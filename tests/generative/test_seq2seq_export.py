"""Whisper exports (whisper-mini: Whisper's real 80 x 3000 input, narrow layers) run in their real
runtimes, 8 greedy steps compared token for token with the model each artifact implements."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge_kit.generative.seq2seq import SpeechSeq2Seq, random_whisper
from edge_kit.generative.seq2seq_api import check_speech, export_speech

pytestmark = pytest.mark.timeout(1800)
CACHE_LEN = 32


@pytest.fixture(scope="module")
def mini() -> SpeechSeq2Seq:
    return random_whisper("whisper-mini", seed=0)


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory, mini: SpeechSeq2Seq) -> dict[tuple[str, str], Any]:
    """Exports made on first use: (format, precision) -> (artifact, check)."""
    return {"folder": tmp_path_factory.mktemp("whisper")}


def _get(made: dict[Any, Any], mini: SpeechSeq2Seq, fmt: str, precision: str) -> Any:
    if (fmt, precision) not in made:
        name = f"w_{precision}.pte" if fmt == "executorch" else f"w_{precision}_onnx"
        made[fmt, precision] = export_speech(
            mini, made["folder"] / name, fmt=fmt, cache_len=CACHE_LEN, precision=precision
        )
    return made[fmt, precision]


def _assert_eight_steps(check: Any, bound: float) -> None:
    assert check.status == "ok", check
    assert check.matched_steps == check.forced_matches == 8 and check.prompt == (1,)
    assert check.max_abs_logit_diff < bound, check


def test_pte_fp32_two_methods_validate_eight_greedy_steps(made: dict[Any, Any], mini: SpeechSeq2Seq) -> None:
    from edge_kit.harness.harness_generate import pte_constants

    artifact, check = _get(made, mini, "executorch", "fp32")
    _assert_eight_steps(check, 1e-4)
    consts = pte_constants(str(artifact.path))
    assert consts["get_max_seq_len"] == CACHE_LEN and consts["get_vocab_size"] == 1024
    assert (consts["get_decoder_start_token_id"], consts["get_n_mels"], consts["get_n_frames"]) == (1, 80, 3000)
    assert consts["use_kv_cache"] == 1


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["int4"])
def test_pte_quantized_validates_against_its_quantized_source(
    made: dict[Any, Any], mini: SpeechSeq2Seq, precision: str
) -> None:
    artifact, check = _get(made, mini, "executorch", precision)
    _assert_eight_steps(check, 0.05)
    assert check.reference == f"source with the artifact's {precision} weights"
    fp32, _ = _get(made, mini, "executorch", "fp32")
    assert artifact.size_bytes < fp32.size_bytes and artifact.quantization["linear"] in ("8da4w", "8da8w")


@pytest.mark.parametrize("precision", ["fp32", "int4"])
def test_onnx_folder_validates_eight_greedy_steps(made: dict[Any, Any], mini: SpeechSeq2Seq, precision: str) -> None:
    import json

    import onnx

    artifact, check = _get(made, mini, "onnx", precision)
    _assert_eight_steps(check, {"fp32": 1e-4, "int4": 0.05}[precision])
    assert sorted(p.name for p in artifact.path.iterdir()) == ["decoder.onnx", "encoder.onnx"]
    props = {p.key: p.value for p in onnx.load(str(artifact.path / "decoder.onnx")).metadata_props}
    meta = json.loads(props["edgekit.generative"])
    assert (meta["kind"], meta["cache_len"], meta["decoder_start_token_id"]) == ("encoder-decoder", CACHE_LEN, 1)


def test_onnx_int4_is_smaller_and_matmuls_are_4bit(made: dict[Any, Any], mini: SpeechSeq2Seq) -> None:
    import onnx

    fp32, _ = _get(made, mini, "onnx", "fp32")
    int4, _ = _get(made, mini, "onnx", "int4")
    ops = {n.op_type for n in onnx.load(str(int4.path / "decoder.onnx")).graph.node}
    assert "MatMulNBits" in ops and int4.size_bytes < 0.75 * fp32.size_bytes


def test_a_different_model_is_a_real_mismatch(made: dict[Any, Any], mini: SpeechSeq2Seq) -> None:
    artifact, _ = _get(made, mini, "onnx", "fp32")
    other = random_whisper("whisper-mini", seed=1)
    check = check_speech(artifact, mini, other.model, [1], 8)
    assert check.status == "mismatch" and check.matched_steps < 8 and check.message


def test_the_harness_loop_runs_the_encoder_once_per_generation(made: dict[Any, Any], mini: SpeechSeq2Seq) -> None:
    from edge_kit.generative.runtime import open_speech_decoder
    from edge_kit.harness.harness_generate import profile_generation

    artifact, check = _get(made, mini, "onnx", "fp32")
    decoder = open_speech_decoder(Path(artifact.path))
    report = profile_generation(decoder, [decoder.start_token], new_tokens=6, runs=2, warmup=0)
    assert report["tokens"] == list(check.artifact_tokens[:6])
    assert len(decoder.encoder_ms) == 2 and report["ttft"]["min_ms"] > min(decoder.encoder_ms)
    assert report["decode_tokens_per_s"] > 0 and np.isfinite(report["decode_step"]["p50_ms"])


def test_the_pte_profiles_on_host_and_on_the_emulated_raspi(made: dict[Any, Any], mini: SpeechSeq2Seq) -> None:
    """`edgekit profile` runs both methods through the shim: the export's greedy tokens, the encoder
    inside the time to first token, and under QEMU a counted estimate of each phase."""
    import json

    from tests.conftest import run_cli

    artifact, check = _get(made, mini, "executorch", "fp32")
    args = ("--prompt-len", "1", "--new-tokens", "6", "--num-runs", "1", "--warmup-runs", "0", "--json")
    reports = {}
    for target in ("host", "raspi"):
        result = run_cli("profile", artifact.path, "--target", target, *args)
        assert result.code == 0, result.stderr[-2000:]
        reports[target] = json.loads(result.stdout)
    for report in reports.values():
        assert report["schema"] == "edgekit.generation-profile"
        assert report["decode"]["tokens"] == list(check.artifact_tokens[:6])
        assert 0 < report["prefill"]["encoder_p50_ms"] < report["prefill"]["ttft_p50_ms"]
    raspi = reports["raspi"]
    assert raspi["kind"] == raspi["decode"]["kind"] == "emulated" and reports["host"]["kind"] == "measured"
    est = raspi["estimate"]
    assert est["available"] and est["prefill"]["instructions"] > est["decode_per_token"]["instructions"] > 0
