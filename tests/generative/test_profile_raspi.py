"""`edgekit profile` of a tiny decoder on the emulated Raspberry Pi 4: emulated timings, counted estimates."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.timeout(900)


def test_profile_on_emulated_raspi_estimates_prefill_and_decode(raspi_profile: dict[str, Any]) -> None:
    report = raspi_profile
    assert len(report["decode"]["tokens"]) == 6
    assert report["kind"] == "emulated" and report["backend"]["emulated"] is True
    assert report["prefill"]["kind"] == report["decode"]["kind"] == "emulated"
    est = report["estimate"]
    assert est["available"] and est["device"] == "Raspberry Pi 4"
    assert est["prefill"]["instructions"] > est["decode_per_token"]["instructions"] > 0  # 8 tokens vs 1
    assert est["decode_tokens_per_s"] == pytest.approx(1e3 / est["decode_per_token"]["estimated_ms"])
    assert "estimate, not a measurement" in est["method"]
