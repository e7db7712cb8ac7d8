"""Tiny decoders (random weights, seeded) and their exports, built once per session.

Exports are slow (ExecuTorch lowering dominates), so each (model, format, precision) is made
once, on first use, and shared by every test that needs it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli

CACHE_LEN = 48


class Exports:
    """Lazily exported artifacts: `get('llama', 'onnx', 'int4') -> (GenerativeArtifact, reference)`."""

    def __init__(self, folder: Path, models: dict[str, Any]) -> None:
        self.folder, self.models = folder, models
        self.done: dict[tuple[str, str, str], Any] = {}

    def get(self, model: str, fmt: str, precision: str) -> Any:
        key = (model, fmt, precision)
        if key not in self.done:
            from edge_kit.generative import export_onnx, export_pte

            export = export_pte if fmt == "pte" else export_onnx
            dest = self.folder / f"{model}_{precision}.{fmt}"
            self.done[key] = export(self.models[model], dest, cache_len=CACHE_LEN, precision=precision)
        return self.done[key]


@pytest.fixture(scope="session")
def tiny_lms() -> dict[str, Any]:
    """A 2-layer Llama (hidden 64, GQA 4/2 heads) and a 2-layer GPT-2 (hidden 64, tied LM head)."""
    from edge_kit.generative import random_causal_lm

    return {
        "llama": random_causal_lm("llama-tiny", seed=0, vocab_size=2048),
        "gpt2": random_causal_lm("gpt2-tiny", seed=0, vocab_size=2048),
    }


@pytest.fixture(scope="session")
def exports(tmp_path_factory: pytest.TempPathFactory, tiny_lms: dict[str, Any]) -> Exports:
    return Exports(tmp_path_factory.mktemp("generative"), tiny_lms)


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Llama checkpoint folder (config.json + safetensors + tokenizer), random weights."""
    from edge_kit.generative import random_causal_lm
    from edge_kit.generative.source import save_checkpoint

    folder = tmp_path_factory.mktemp("ckpt") / "tiny-llama"
    return save_checkpoint(random_causal_lm("llama-tiny", seed=3), folder)


@pytest.fixture(scope="session")
def exported(checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """`edgekit export FOLDER -o x.onnx --cache-len 48 --json`: the artifact and the printed manifest."""
    out = tmp_path_factory.mktemp("cli") / "llama.onnx"
    result = run_cli("export", checkpoint, "-o", out, "--cache-len", "48", "--json")
    assert result.code == 0, result.stderr[-2000:]
    return out, json.loads(result.stdout)


@pytest.fixture(scope="session")
def pte_int4(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """`edgekit export preset:gpt2-tiny --format executorch --quantize int4 --json`: artifact and manifest."""
    out = tmp_path_factory.mktemp("pte") / "g.pte"
    result = run_cli("export", "preset:gpt2-tiny", "--format", "executorch", "--quantize", "int4", "-o", out, "--json")
    assert result.code == 0, result.stderr[-2000:]
    return out, json.loads(result.stdout)


RASPI_PROFILE = ("--target", "raspi", "--prompt-len", "8", "--new-tokens", "6", "--num-runs", "1", "--warmup-runs", "0")


@pytest.fixture(scope="session")
def raspi_profile(exported: tuple[Path, dict[str, Any]]) -> dict[str, Any]:
    """`edgekit profile llama.onnx --target raspi --json` (QEMU, counted): the generation report."""
    result = run_cli("profile", exported[0], *RASPI_PROFILE, "--json")
    assert result.code == 0, result.stderr[-2000:]
    return dict(json.loads(result.stdout))
