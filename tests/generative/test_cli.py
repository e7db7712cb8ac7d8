"""`edgekit export` / `edge_kit.export` of causal LMs and `edgekit profile` of the decoders they make.

Tiny decoders (2 layers, hidden 64, vocabularies of 512-2048), the real CLI in a subprocess,
the real runtimes; profiles on the host (measured).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import assert_clean_error, run_cli

pytestmark = pytest.mark.timeout(1200)


def test_checkpoint_folder_exports_and_validates_eight_greedy_steps(exported: tuple[Path, dict[str, Any]]) -> None:
    from edge_kit.documents.generative import GenerativeManifest
    from edge_kit.fsutil import sha256_file

    out, manifest = exported
    GenerativeManifest.model_validate(manifest)
    assert manifest == json.loads(out.with_name(out.name + ".json").read_text())  # --json prints the manifest
    assert sorted(p.name for p in out.parent.iterdir()) == ["llama.onnx", "llama.onnx.json"]  # nothing else
    assert manifest["status"] == "ok" and manifest["source"]["kind"] == "checkpoint"
    check = manifest["validation"]
    assert check["steps"] == 8 and check["matched_steps"] == 8
    assert check["artifact_tokens"] == check["reference_tokens"]
    assert manifest["artifact"]["sha256"] == sha256_file(out)
    assert manifest["cache"]["cache_len"] == 48 and manifest["artifact"]["format"] == "onnx"


def test_preset_to_pte_int4(pte_int4: tuple[Path, dict[str, Any]]) -> None:
    out, manifest = pte_int4
    assert manifest["artifact"]["precision"] == "int4" and manifest["artifact"]["format"] == "executorch"
    assert manifest["validation"]["status"] == "ok" and manifest["validation"]["matched_steps"] == 8
    assert manifest["validation"]["reference"].startswith("source with the artifact's int4")
    assert out.stat().st_size == manifest["artifact"]["size_bytes"]


def test_config_json_with_random_weights_through_the_api(tmp_path: Path) -> None:
    import edge_kit
    from edge_kit.generative import random_causal_lm

    config = tmp_path / "config.json"
    random_causal_lm("qwen2-tiny", seed=0).model.config.to_json_file(str(config))
    result = edge_kit.export(config, output=tmp_path / "q.onnx", quantize="int4", cache_len=32)
    assert result.status == "ok" and result.manifest["source"]["kind"] == "config"
    assert result.manifest["artifact"]["precision"] == "int4"


def test_a_live_transformers_model_through_the_api(tmp_path: Path) -> None:
    import edge_kit
    from edge_kit.generative import random_causal_lm

    model = random_causal_lm("llama-tiny", seed=1).model
    result = edge_kit.export(model, format="onnx", output=tmp_path / "live.onnx", cache_len=24)
    assert result.status == "ok" and result.manifest["source"]["kind"] == "live"
    assert result.artifact == tmp_path / "live.onnx" and result.artifact.is_file()


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (("--cache-len", "4096"), 2, "beyond the model's"),
        (("--format", "ptl"), 4, "no generative export to ptl"),
        (("--quantize", "fp16"), 4, "no fp16 export of a generative decoder"),
        (("-o", "{tmp}/x.bin"), 2, "does not end in .onnx"),
    ],
)
def test_bad_generative_requests_leave_nothing(
    checkpoint: Path, tmp_path: Path, args: tuple[str, ...], code: int, needle: str
) -> None:
    args = tuple(a.format(tmp=tmp_path) for a in args)
    if "-o" not in args:
        args = (*args, "-o", str(tmp_path / "x.onnx"))
    result = run_cli("export", checkpoint, *args)
    assert_clean_error(result, code, needle)
    assert list(tmp_path.iterdir()) == []


def test_a_bert_folder_is_not_a_decoder(tmp_path: Path) -> None:
    folder = tmp_path / "bert"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "bert", "architectures": ["BertModel"]}))
    assert_clean_error(run_cli("export", folder, "-o", tmp_path / "b.onnx"), 4, "not a decoder-only causal")


def test_cache_len_is_for_decoders_only(tiny: dict[str, Path], tmp_path: Path) -> None:
    result = run_cli("export", tiny["cnn.onnx"], "-o", tmp_path / "c.tflite", "--cache-len", "32")
    assert_clean_error(result, 2, "--cache-len applies to generative decoders")


def test_a_mismatch_is_exit_6(exported: tuple[Path, dict[str, Any]]) -> None:
    from edge_kit.errors import ValidationError
    from edge_kit.generative.request import raise_for_manifest

    out, manifest = exported
    check = {**manifest["validation"], "status": "mismatch", "matched_steps": 5, "message": "step 6 differs"}
    with pytest.raises(ValidationError, match="5/8 greedy steps match") as info:
        raise_for_manifest(out, {**manifest, "status": "mismatch", "validation": check})
    assert info.value.exit_code == 6


def test_profile_on_host_separates_prefill_and_decode(exported: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    from edge_kit.documents.generative import GenerationReport

    out, _ = exported
    report_dir = tmp_path / "rep"
    args = ("--target", "host", "--prompt-len", "12", "--new-tokens", "10", "--num-runs", "2")
    result = run_cli("profile", out, *args, "-o", report_dir, "--json")
    assert result.code == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    GenerationReport.model_validate(report)
    assert report["schema"] == "edgekit.generation-profile" and report["kind"] == "measured"
    assert report["artifact"]["precision"] == "fp32" and report["artifact"]["validation_status"] == "ok"
    assert report["prefill"]["prompt_len"] == 12 and report["prefill"]["samples"] == 2
    assert report["decode"]["samples"] == 2 * 9 and report["decode"]["tokens_per_s"] > 0
    assert report["memory"]["kv_cache_host_bytes"] == 2 * 2 * 2 * 2 * 48 * 16 * 4  # 2 copies x K,V x 2 layers
    assert report["estimate"]["available"] is False  # nothing counted on the host
    assert json.loads((report_dir / "profile.json").read_text()) == report
    md = (report_dir / "profile.md").read_text()
    assert "prefill (12 tokens, time to first token)" in md and "decode (per token, 18 steps)" in md
    assert "<table>" in (report_dir / "profile.html").read_text()


def test_profile_refuses_more_tokens_than_the_cache(exported: tuple[Path, dict[str, Any]]) -> None:
    out, _ = exported
    result = run_cli("profile", out, "--target", "host", "--prompt-len", "40", "--new-tokens", "20")
    assert_clean_error(result, 2, "exceed llama.onnx's KV cache of 48 positions")


def test_profile_through_the_api(exported: tuple[Path, dict[str, Any]]) -> None:
    import edge_kit

    out, _ = exported
    result = edge_kit.profile(out, target="host", prompt_len=6, new_tokens=4, num_runs=1)
    assert result.report["kind"] == "measured"
    assert result.ttft_ms > 0 and result.decode_tokens_per_s > 0


def test_bench_ranks_cells_by_decode_tokens_per_s(tmp_path: Path) -> None:
    out = tmp_path / "bench"
    args = ("--target", "host", "--formats", "onnx", "--quantize", "fp32,int4,fp16", "--num-runs", "1")
    result = run_cli("bench", "preset:llama-tiny", *args, "-o", out, "--json")
    assert result.code == 0, result.stderr[-2000:]
    board = json.loads(result.stdout)
    assert board == json.loads((out / "bench.json").read_text()) and (out / "bench.md").is_file()
    rows = {r["precision"]: r for r in board["rows"]}
    assert rows["fp16"]["status"] == "failed" and "no fp16 export" in rows["fp16"]["error"]
    assert rows["fp16"]["rank"] == 3  # a failed cell ranks last
    ok = [r for r in board["rows"] if r["status"] == "ok"]
    assert [r["rank"] for r in ok] == [1, 2] and ok[0]["decode_tokens_per_s"] >= ok[1]["decode_tokens_per_s"]
    assert rows["int4"]["size_vs_fp32"] < 1 and rows["fp32"]["size_vs_fp32"] == 1
