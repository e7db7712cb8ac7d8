"""`edgekit profile` of a tiny decoder on the emulated Raspberry Pi 4: emulated timings, counted estimates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.timeout(900)


def test_profile_on_emulated_raspi_estimates_prefill_and_decode(exported: tuple[Path, dict[str, Any]]) -> None:
    out, _ = exported
    args = ("--target", "raspi", "--prompt-len", "8", "--new-tokens", "6", "--num-runs", "1", "--warmup-runs", "0")
    result = run_cli("profile", out, *args, "--json")
    assert result.code == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert report["kind"] == "emulated" and report["backend"]["emulated"] is True
    assert report["prefill"]["kind"] == report["decode"]["kind"] == "emulated"
    est = report["estimate"]
    assert est["available"] and est["device"] == "Raspberry Pi 4"
    assert est["prefill"]["instructions"] > est["decode_per_token"]["instructions"] > 0  # 8 tokens vs 1
    assert est["decode_tokens_per_s"] == pytest.approx(1e3 / est["decode_per_token"]["estimated_ms"])
    assert "estimate, not a measurement" in est["method"]
