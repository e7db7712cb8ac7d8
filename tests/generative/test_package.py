"""`edgekit package` of a generative decoder: a Linux wheel whose `generate()` decodes like the export.

The wheel is unpacked as pip would and run with a plain `python -m`; the .pte bundle is installed in
the emulated Raspberry Pi 4 and decodes the export's validation prompt there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import assert_clean_error, run_cli

pytestmark = pytest.mark.timeout(900)


def _unpack(bundle: Path, site: Path) -> dict[str, bytes]:
    """The wheel's files, also extracted into `site` (as `pip install --target` lays them out)."""
    with tarfile.open(bundle) as archive:
        wheel = next(m for m in archive.getmembers() if m.name.endswith(".whl"))
        data = archive.extractfile(wheel).read()
    wheel_path = site.parent / "model.whl"
    wheel_path.write_bytes(data)
    with zipfile.ZipFile(wheel_path) as zf:
        zf.extractall(site)
        return {name: zf.read(name) for name in zf.namelist()}


def _module(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run([sys.executable, "-m", "llama_model", *args], capture_output=True, text=True, env=env)


@pytest.fixture(scope="module")
def bundle(exported: tuple[Path, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`edgekit package llama.onnx --platform linux --json`, its wheel unpacked into a site folder."""
    artifact, _ = exported
    folder = tmp_path_factory.mktemp("decoder-bundle")
    out = folder / "llama-linux.tar.gz"
    result = run_cli("package", artifact, "--platform", "linux", "-o", out, "--json")
    assert result.code == 0, result.stderr[-2000:]
    site = folder / "site"
    return {"result": json.loads(result.stdout), "site": site, "files": _unpack(out, site), "out": out}


def test_the_wheel_holds_the_decoder_its_metadata_and_the_loop(bundle: dict[str, Any], exported) -> None:
    from edge_kit.documents.generative import DecoderBundleMetadata
    from edge_kit.fsutil import sha256_file

    artifact, manifest = exported
    files, result = bundle["files"], bundle["result"]
    names = {n for n in files if not n.startswith("llama_model-1.0.0.dist-info/")}
    expected = {"__init__.py", "__main__.py", "_generator.py", "_generate.py", "llama.onnx", "llama.metadata.json"}
    assert names == {f"llama_model/{n}" for n in expected}
    meta = json.loads(files["llama_model/llama.metadata.json"])
    DecoderBundleMetadata.model_validate(meta)
    assert meta == result["metadata"] and meta["model"]["exported_sha256"] == sha256_file(artifact)
    assert meta["validation"]["tokens"] == manifest["validation"]["artifact_tokens"]
    assert result["dependencies"]["python"] == ["onnxruntime>=1.31.1"]
    assert b"onnxruntime" in files["llama_model-1.0.0.dist-info/METADATA"]


def test_generate_decodes_like_the_harness_loop(bundle: dict[str, Any], exported) -> None:
    from edge_kit.harness.harness_generate import greedy, open_decoder

    artifact, manifest = exported
    test = _module(bundle["site"], "--self-test")
    assert test.returncode == 0, test.stderr
    assert json.loads(test.stdout)["tokens"] == manifest["validation"]["artifact_tokens"]
    prompt = [5, 17, 300, 2, 41]
    run = _module(bundle["site"], "--prompt-ids", ",".join(map(str, prompt)), "--max-new-tokens", "10")
    assert run.returncode == 0, run.stderr
    printed = json.loads(run.stdout)
    assert printed["tokens"] == greedy(open_decoder(str(artifact)), prompt, 10)["tokens"]
    assert printed["ttft_ms"] > 0 and printed["decode_tokens_per_s"] > 0


def test_the_wheel_refuses_what_the_cache_cannot_hold(bundle: dict[str, Any]) -> None:
    beyond = _module(bundle["site"], "--prompt-ids", "1,2,3", "--max-new-tokens", "46")  # 3 + 46 > 48
    assert beyond.returncode == 2 and "exceed the KV cache of 48 positions" in beyond.stderr
    assert "Traceback" not in beyond.stderr
    unknown = _module(bundle["site"], "--prompt-ids", "1,99999")
    assert unknown.returncode == 2 and "token id 99999 is outside the vocabulary" in unknown.stderr


def test_decoders_go_to_linux_only_and_take_no_classifier_options(exported, tmp_path: Path) -> None:
    artifact, _ = exported
    android = run_cli("package", artifact, "--platform", "android", "-o", tmp_path / "a.aar")
    assert_clean_error(android, 4, "android bundles do not take generative decoders")
    labels = tmp_path / "labels.txt"
    labels.write_text("a\nb\n")
    with_labels = run_cli("package", artifact, "--platform", "linux", "--labels", labels, "-o", tmp_path / "l.tar.gz")
    assert_clean_error(with_labels, 2, "--labels", "token ids")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels.txt"]


def test_the_pte_wheel_decodes_the_exported_tokens_on_the_emulated_raspi(pte_int4, tmp_path: Path) -> None:
    artifact, manifest = pte_int4
    out = tmp_path / "g-linux.tar.gz"
    result = run_cli("package", artifact, "--platform", "linux", "--verify-on", "raspi", "-o", out, "--json")
    assert result.code == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)["verification"]
    assert report["emulated"] and report["target"] == "raspi4"
    assert report["tokens"] == manifest["validation"]["artifact_tokens"] and report["matched_steps"] == 8
    with tarfile.open(out) as archive:
        names = archive.getnames()
    assert any(n.endswith("manylinux_2_28_aarch64.whl") for n in names)
