"""The latency model: clock, threads, instruction mix, caches; and the static per-operator analysis."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from edge_kit.estimate.model import Core, Params, predict, spilled_bytes, thread_scale
from edge_kit.estimate.opcost import ModelCost, OpCost, analyse
from edge_kit.targets import INSN_CLASSES, get_target

RECORDS = Path(__file__).resolve().parents[2] / "edge_kit" / "estimate" / "data" / "calibration_records.json"
PARAMS = Params(k=0.86, beta=0.10)


def _record(target: str, model: str, precision: str) -> tuple[dict[str, float], ModelCost]:
    """Real counts and per-operator bytes of MobileNet, as measured by benchmarks/bench_estimate.py."""
    for r in json.loads(RECORDS.read_text())["records"]:
        if (r["target"], r["model"], r["precision"]) == (target, model, precision):
            return r["per_inference"], ModelCost.from_dict(r["cost"])
    raise LookupError((target, model, precision))


def _core(target: str) -> Core:
    core = Core.from_target(get_target(target))
    assert core is not None
    return core


def test_instruction_classes_match_the_plugin() -> None:
    from edge_kit.emulation.insncounts import CLASSES

    assert INSN_CLASSES == CLASSES


def test_higher_clock_is_faster_and_only_the_compute_term_scales() -> None:
    counts, cost = _record("raspi4", "mobilenet_v2_1.0_224", "fp32")
    slow, fast = (predict(counts, cost, _core("raspi4"), PARAMS, ghz, 4) for ghz in (1.5, 1.8))
    assert fast.latency_ms < slow.latency_ms
    assert fast.compute_ms == pytest.approx(slow.compute_ms * 1.5 / 1.8)
    assert fast.memory_ms == pytest.approx(slow.memory_ms)


def test_dot_products_beat_widening_multiply_accumulates_on_the_a76() -> None:
    """The same 16 int8 MACs: one SDOT, or SMULL + SMLAL2 + SADALP (the no-dotprod kernels)."""
    core, cost = _core("raspi5"), ModelCost((), "size-only", 0)
    sdot = predict({"dotprod": 1e6}, cost, core, PARAMS, 2.4, 1)
    mlal = predict({"neon_int": 1e6, "neon_int_mac": 2e6}, cost, core, PARAMS, 2.4, 1)
    assert sdot.latency_ms < mlal.latency_ms / 4


def test_threads_scale_until_the_compute_cores_run_out() -> None:
    counts, cost = _record("android-arm64", "mobilenet_v1_1.0_224", "fp32")
    core = _core("android-arm64")
    ms = [predict(counts, cost, core, PARAMS, 2.42, n).latency_ms for n in (1, 2, 4, 8)]
    assert ms[0] > ms[1] > ms[2] and ms[3] == ms[2]  # only the four A76-class cores compute
    assert thread_scale(1, 0.98) == 1.0 and thread_scale(4, 0.98) == pytest.approx(0.265)


def test_estimate_is_reproducible() -> None:
    counts, cost = _record("raspi4", "mobilenet_v2_1.0_224", "int8")
    first, second = (predict(counts, cost, _core("raspi4"), PARAMS, 1.5, 4) for _ in range(2))
    assert first == second


def test_bigger_caches_spill_fewer_bytes_and_fitting_weights_spill_none() -> None:
    _, cost = _record("raspi4", "mobilenet_v2_1.0_224", "fp32")
    spills = [spilled_bytes(cost, kb * 1024)[0] for kb in (512, 1024, 4096, 65536)]
    assert spills == sorted(spills, reverse=True) and spills[-1] == 0
    op = OpCost(0, "CONV_2D", macs=1, weight_bytes=1000, in_bytes=500, out_bytes=500, out_elements=1)
    assert spilled_bytes(ModelCost((op,), "tflite-static", 3000), 4000)[0] == 0
    assert spilled_bytes(ModelCost((op,), "tflite-static", 3000), 1000)[0] == pytest.approx(1000 * 0.5 + 0)


def test_int8_moves_fewer_bytes_than_fp32() -> None:
    (_, fp32), (_, int8) = (_record("raspi4", "mobilenet_v2_1.0_224", p) for p in ("fp32", "int8"))
    assert fp32.macs == int8.macs == 300_774_272  # MobileNetV2 1.0 224: the published 300M MACs
    assert int8.weight_bytes < fp32.weight_bytes / 3.5
    assert spilled_bytes(int8, 1 << 20)[0] < spilled_bytes(fp32, 1 << 20)[0] / 5


def test_static_analysis_agrees_between_tflite_and_onnx(digits: dict[str, Path], digits_macs: int) -> None:
    tfl, onnx = analyse(digits["tflite"]), analyse(digits["onnx"])
    assert tfl.source == "tflite-static" and onnx.source == "onnx-static"
    assert tfl.macs == onnx.macs == digits_macs
    assert tfl.weight_bytes == pytest.approx(onnx.weight_bytes, rel=0.02)


def test_unreadable_files_fall_back_to_their_size(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"not a flatbuffer" * 10)
    cost = analyse(junk)
    assert cost.source == "size-only" and cost.ops == () and cost.weight_bytes == 160


def test_unmodelled_classes_are_reported() -> None:
    core = replace(_core("raspi4"), cpi={"scalar_int": 0.5})
    pred = predict({"scalar_int": 10.0, "sve": 5.0}, ModelCost((), "size-only", 0), core, PARAMS, 1.5, 1)
    assert pred.unmodelled_classes == ("sve",)
