"""`edgekit profile` end to end under QEMU (real runtimes, real emulation, real counting plugin)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge_kit.documents.profile import ProfileReport
from edge_kit.errors import RuntimeFailure, UnsupportedError
from edge_kit.profiler import ProfileRequest, profile
from tests.conftest import assert_clean_error, run_cli


@pytest.mark.parametrize("fmt", ["tflite", "onnx", "executorch"])
def test_profile_report_has_the_promised_fields(digits_artifacts: dict, fmt: str):
    report = profile(ProfileRequest(artifact=digits_artifacts[fmt], target="raspi", num_runs=3))
    ProfileReport.model_validate_json(json.dumps(report))  # the documented type (edgekit schema profile)
    assert report["schema"] == "edgekit.profile" and report["backend"]["qemu_cpu"] == "cortex-a72"
    lat = report["latency"]
    assert lat["kind"] == "emulated" and "emulated" in lat["note"]
    assert lat["count"] == 3 and 0 < lat["min_ms"] <= lat["p50_ms"] <= lat["max_ms"]
    assert report["memory"]["peak_rss_kb"] > 0 and report["memory"]["peak_over_runtime_kb"] > 0
    assert report["artifact"]["size_bytes"] == digits_artifacts[fmt].stat().st_size
    assert report["artifact"]["precision"] == "fp32" and report["machine"]["machine"] == "aarch64"
    assert report["machine"]["cpu"]["parts"] == ["0xd08"]  # the Cortex-A72 the runtime saw
    ins = report["instructions"]
    assert ins["regions"] == 2 and ins["per_inference_total"] > 10_000
    if fmt in ("onnx", "executorch"):
        assert report["ops"]["by_op_type"], report["ops"]
    else:
        assert report["ops"]["available"] is False and "not" in report["ops"]["note"]


def test_instruction_counts_repeat_within_one_percent(digits_artifacts: dict):
    first, second = (
        profile(ProfileRequest(artifact=digits_artifacts["onnx"], target="raspi", num_runs=1, profile_ops=False))[
            "instructions"
        ]
        for _ in range(2)
    )
    a, b = first["per_inference_total"], second["per_inference_total"]
    assert abs(a - b) / a < 0.01, (a, b)


def test_int8_kernels_differ_between_raspi4_and_raspi5(int8_tflite: Path):
    counts = {
        t: profile(ProfileRequest(artifact=int8_tflite, target=t, num_runs=1, num_threads=1, profile_ops=False))[
            "instructions"
        ]["per_inference"]
        for t in ("raspi4", "raspi5")
    }
    assert counts["raspi4"]["dotprod"] == 0 and counts["raspi4"]["neon_int_mac"] > 0  # SMLAL/SADALP kernels
    assert counts["raspi5"]["dotprod"] > 0  # SDOT kernels on the Cortex-A76
    assert sum(counts["raspi5"].values()) < 0.8 * sum(counts["raspi4"].values())


def test_report_folder_holds_json_markdown_and_offline_html(digits_artifacts: dict, tmp_path: Path):
    out = tmp_path / "report"
    result = run_cli(
        "profile", digits_artifacts["onnx"], "--target", "raspi5", "--num_runs", "3", "--report", out, "--json"
    )
    assert result.code == 0, result.stderr[-2000:]
    assert json.loads(result.stdout) == json.loads((out / "profile.json").read_text())
    html = (out / "profile.html").read_text()
    assert "<svg" in html and "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html
    assert "emulated" in (out / "profile.md").read_text()


def test_host_backend_measures_natively(digits_artifacts: dict):
    report = profile(
        ProfileRequest(artifact=digits_artifacts["executorch"], target="host", num_runs=3, count_instructions=False)
    )
    assert report["backend"]["name"] == "host" and report["latency"]["kind"] == "measured"
    assert report["instructions"] is None and report["estimate"] is None


def test_a_hung_run_ends_in_a_clear_error_within_the_timeout(digits_artifacts: dict):
    with pytest.raises(RuntimeFailure, match="timed out"):
        profile(
            ProfileRequest(
                artifact=digits_artifacts["onnx"],
                target="raspi",
                num_runs=100000,
                max_secs=1e6,
                timeout_s=4,
                count_instructions=False,
            )
        )


def test_source_models_and_ptl_are_not_profilable(tmp_path: Path):
    from tests.conftest import SAMPLES

    with pytest.raises(UnsupportedError, match="cannot profile"):
        profile(ProfileRequest(artifact=SAMPLES / "digits_cnn.pt2", target="raspi"))
    assert_clean_error(run_cli("profile", SAMPLES / "digits_cnn.pt", "--target", "raspi"), 4, "cannot profile")
