"""The harness's --generate mode: the torch-free generation loop in a fresh process, per runtime."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from edge_kit.emulation.environment import harness_path

pytestmark = pytest.mark.timeout(1800)


def _harness(*args: str, tmp: Path) -> tuple[int, dict[str, Any]]:
    out = tmp / "report.json"
    proc = subprocess.run(
        [sys.executable, str(harness_path()), *args, "--out", str(out)], capture_output=True, text=True, timeout=600
    )
    return proc.returncode, json.loads(out.read_text())


def test_generate_on_onnx_reports_prefill_and_decode(exports: Any, tmp_path: Path) -> None:
    artifact, _ = exports.get("llama", "onnx", "fp32")
    args = ["--model", str(artifact.path), "--generate", "--prompt-len", "8", "--new-tokens", "6", "--num_runs", "2"]
    code, report = _harness(*args, tmp=tmp_path)
    assert code == 0 and report["ok"], report
    gen = report["generation"]
    assert gen["prompt_len"] == 8 and len(gen["tokens"]) == 6
    assert gen["ttft"]["count"] == 2 and gen["decode_step"]["count"] == 2 * 5
    assert gen["decode_tokens_per_s"] > 0 and gen["load_ms"] > 0
    assert report["memory"]["peak_rss_kb"] >= report["memory"]["rss_loaded_kb"] > 0
    assert report["memory"]["kv_cache_host_bytes"] == 2 * artifact.layout.cache_bytes


def test_generate_runs_the_same_tokens_through_the_executorch_shim(exports: Any, tmp_path: Path) -> None:
    """The C++ shim (the runtime of emulated guests and devices) with dynamic-shape inputs
    generates what ExecuTorch's Python runtime generates."""
    from edge_kit.emulation.etruntime import SHIM_NAME, ensure_et_runtime, host_arch
    from edge_kit.generative import open_decoder
    from edge_kit.harness.harness_generate import greedy

    artifact, _ = exports.get("llama", "pte", "int4")
    lib = ensure_et_runtime(host_arch()) / SHIM_NAME
    prompt = "3,14,15,92,65,35,89,79"
    args = ["--model", str(artifact.path), "--generate", "--prompt", prompt, "--new-tokens", "6", "--num_runs", "1"]
    code, report = _harness(*args, "--et-lib", str(lib), tmp=tmp_path)
    assert code == 0 and report["ok"], report
    assert report["runtime"]["version"].endswith("(edgekit shim)")
    assert report["decoder"]["cache_len"] == artifact.layout.cache_len
    python_runtime = greedy(open_decoder(artifact.path), [int(t) for t in prompt.split(",")], 6)
    assert report["generation"]["tokens"] == python_runtime["tokens"]


def test_generate_refuses_a_prompt_beyond_the_cache(exports: Any, tmp_path: Path) -> None:
    artifact, _ = exports.get("llama", "onnx", "fp32")
    n = artifact.layout.cache_len
    code, report = _harness("--model", str(artifact.path), "--generate", "--prompt-len", str(n), tmp=tmp_path)
    assert code == 2 and not report["ok"]
    assert "exceed the cache" in report["error"]["message"]


def test_generate_on_a_non_decoder_says_so(tmp_path: Path) -> None:
    import torch

    torch.onnx.export(torch.nn.Linear(4, 2), (torch.rand(1, 4),), str(tmp_path / "mlp.onnx"), dynamo=False)
    code, report = _harness("--model", str(tmp_path / "mlp.onnx"), "--generate", tmp=tmp_path)
    assert code == 2 and "not a KV-cache decoder" in report["error"]["message"]
