"""The report section and its one line: calibrated, uncalibrated, unavailable; a real profile."""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest

from edge_kit.errors import UsageError
from edge_kit.estimate import estimate_from_report, format_estimate
from edge_kit.estimate.model import load_params_doc
from edge_kit.targets import _parse, get_target


def test_a_real_profile_report_carries_the_estimate(raspi4_report: dict[str, Any]) -> None:
    est = raspi4_report["estimate"]
    assert est["available"] and est["calibrated"] and est["calibration"] == "calibrated"
    ms = est["estimated_device_latency_ms"]
    assert 0 < est["low_ms"] < ms < est["high_ms"] and est["statistic"] == "p50"
    assert est["method"]["version"] == "2" and est["num_threads"] == 4 and est["clock_ghz"] == 1.5
    assert est["breakdown"]["compute_ms"] + est["breakdown"]["memory_ms"] == pytest.approx(ms, rel=1e-3)
    assert est["breakdown"]["int_share"] == 0.0 and est["params_core"] == "cortex-a72"
    # the interval is this board's largest out-of-sample error, and the note says where it comes from
    doc = load_params_doc()
    assert est["interval_pct"] == doc["interval_pct"]["calibrated"]["raspi4"]
    assert "leave-one-model-out" in est["note"] and est["interval_source"] == "out-of-sample errors on this board"
    assert est["method"]["param_rows"]["cortex-a72.k_int8"] == ["raspi4 mobilenet_v2_1.0_224 int8"]
    assert est["per_operator"]["rows"] and "roofline" in est["per_operator"]["method"]
    assert {r["bound"] for r in est["per_operator"]["rows"]} <= {"compute", "memory"}
    assert sum(r["ms"] for r in est["per_operator"]["rows"]) == pytest.approx(ms, rel=1e-2)
    line = format_estimate(est, get_target("raspi4"))
    assert line.startswith(f"estimated on Raspberry Pi 4: {ms:.3g} ms (±{est['interval_pct']}%; extrapolated")
    # The emulated wall time is a different, much larger figure, labelled as such.
    assert raspi4_report["latency"]["kind"] == "emulated"


def test_same_counts_same_estimate(raspi4_report: dict[str, Any]) -> None:
    again = estimate_from_report(copy.deepcopy(raspi4_report), get_target("raspi4"))
    assert again == raspi4_report["estimate"]


def test_clock_override_scales_the_estimate_and_says_so(raspi4_report: dict[str, Any]) -> None:
    target = get_target("raspi4")
    base = estimate_from_report(raspi4_report, target)
    fast = estimate_from_report(raspi4_report, target, clock_ghz=1.8)
    assert fast["estimated_device_latency_ms"] < base["estimated_device_latency_ms"]
    assert fast["clock_source"] == "--clock-ghz"
    assert format_estimate(fast, target).startswith("estimated on Raspberry Pi 4 at 1.8 GHz: ")


@pytest.mark.parametrize(
    "target,status", [("raspi5", "same_core"), ("jetson-nano", "uncalibrated"), ("aarch64", "uncalibrated")]
)
def test_targets_without_published_rows_say_uncalibrated(
    raspi4_report: dict[str, Any], target: str, status: str
) -> None:
    est = estimate_from_report(raspi4_report, get_target(target))
    assert est["available"] and not est["calibrated"] and est["calibration"] == status
    assert est["note"].startswith(f"uncalibrated: ±{est['interval_pct']}% (no published row for this board")
    assert f"(uncalibrated: ±{est['interval_pct']}%; extrapolated" in format_estimate(est, get_target(target))
    # the error budget: the borrowed core's own interval, memory, efficiency transfer, combined in log space
    budget = est["error_budget"]
    assert set(budget["terms_log"]) == {"base", "memory", "efficiency"}
    total = math.sqrt(sum(v * v for v in budget["terms_log"].values()))
    assert est["interval_pct"] == 5 * math.ceil(100 * (math.exp(total) - 1) / 5 - 1e-9)
    calibrated = load_params_doc()["interval_pct"]["calibrated"]
    assert est["interval_pct"] > calibrated[budget["source_board"]]
    assert budget["source_core"] == ("cortex-a76" if target == "raspi5" else "cortex-a72")
    assert target == "raspi5" or "assumptions" in budget


def test_no_estimate_without_a_core_description_or_counts(raspi4_report: dict[str, Any]) -> None:
    host = estimate_from_report(raspi4_report, get_target("host"))
    assert not host["available"] and "microarch" in host["reason"]
    assert format_estimate(host, get_target("host")).startswith("device estimate: not available")
    bare = {**raspi4_report, "instructions": None}
    assert not estimate_from_report(bare, get_target("raspi4"))["available"]


def test_missing_artifact_falls_back_to_its_size_and_says_so(raspi4_report: dict[str, Any]) -> None:
    moved = copy.deepcopy(raspi4_report)
    moved["artifact"]["path"] = "/nonexistent/model.tflite"
    est = estimate_from_report(moved, get_target("raspi4"))
    assert est["available"] and est["breakdown"]["bytes_source"] == "size-only"
    assert any("no per-operator analysis" in n for n in est["notes"])


def _toml(microarch: dict[str, Any]) -> dict[str, Any]:
    base = {
        "name": "x",
        "description": "x",
        "arch": "aarch64",
        "docker_platform": "linux/arm64",
        "qemu_cpu": "cortex-a72",
        "cores": 4,
        "clock_ghz": 1.5,
        "memory_mb": 1024,
        "os": "debian",
        "preferred_formats": ["tflite"],
        "default_precision": "fp32",
        "isa": {"neon": True},
    }
    return {**base, "microarch": microarch}


def test_microarch_tables_are_validated() -> None:
    good = dict(get_target("raspi4").microarch)
    assert _parse(_toml(good), "x.toml").microarch.core == "cortex-a72"
    for broken, needle in (
        ({**good, "dram_gbps": -1}, "dram_gbps"),
        ({**good, "speed": 1}, "unknown"),
        ({k: v for k, v in good.items() if k != "l2_kb"}, "missing"),
        ({**good, "cycles_per_insn": {"fma": 1.0}}, "cycles_per_insn"),
    ):
        with pytest.raises(UsageError, match=needle):
            _parse(_toml(broken), "x.toml")


def test_runtimes_with_their_own_profile_apportion_by_it(raspi4_report: dict[str, Any]) -> None:
    """onnxruntime / ExecuTorch give per-node time shares: the compute estimate is split by them."""
    report = copy.deepcopy(raspi4_report)
    report["ops"] = {
        "available": True,
        "source": "onnxruntime profiler",
        "by_node": [{"node": "conv1", "op": "Conv", "share": 0.75}, {"node": "fc", "op": "Gemm", "share": 0.25}],
    }
    est = estimate_from_report(report, get_target("raspi4"))
    rows = {r["node"]: r["ms"] for r in est["per_operator"]["rows"]}
    assert rows["conv1"] == pytest.approx(3 * rows["fc"], rel=1e-3)
    assert rows["conv1"] + rows["fc"] == pytest.approx(est["estimated_device_latency_ms"], rel=1e-3)
    assert "onnxruntime profiler" in est["per_operator"]["method"]


def test_models_far_smaller_than_the_fitted_ones_are_flagged_as_extrapolated(raspi4_report: dict[str, Any]) -> None:
    import json

    from edge_kit.estimate.rows import RECORDS

    digits = raspi4_report["estimate"]  # ~0.5 M instructions; MobileNets are 100-200 M
    assert digits["extrapolated"] and "likely a lower bound" in digits["notes"][0]
    record = next(
        r
        for r in json.loads(RECORDS.read_text())["records"]
        if (r["target"], r["model"], r["precision"]) == ("raspi4", "mobilenet_v2_1.0_224", "fp32")
    )
    mobilenet = {
        "instructions": {"per_inference": record["per_inference"]},
        "settings": {"num_threads": 4},
        "artifact": {"size_bytes": 14_000_000},
    }
    est = estimate_from_report(mobilenet, get_target("raspi4"))
    assert est["available"] and not est["extrapolated"]
    assert format_estimate(est, get_target("raspi4")).endswith(f"(±{est['interval_pct']}%)")
