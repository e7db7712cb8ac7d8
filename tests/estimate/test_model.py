"""The latency model: clock, threads, instruction mix, fp32/int8 kernels, caches, the per-operator
roofline; and the static per-operator analysis."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from edge_kit.estimate.model import (
    Core,
    CoreParams,
    Params,
    int_share,
    predict,
    spilled_bytes,
    thread_scale,
)
from edge_kit.estimate.opcost import ModelCost, OpCost, analyse
from edge_kit.targets import INSN_CLASSES, get_target

RECORDS = Path(__file__).resolve().parents[2] / "edge_kit" / "estimate" / "data" / "calibration_records.json"
PARAMS = Params({"cortex-a72": CoreParams(1.7, 1.0), "cortex-a76": CoreParams(1.2, 1.6)}, beta=0.12)


def _record(target: str, model: str, precision: str) -> tuple[dict[str, float], ModelCost]:
    """Real counts and per-operator bytes, as measured by benchmarks/bench_estimate.py."""
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


def test_higher_clock_is_faster_and_only_compute_scales() -> None:
    counts, cost = _record("raspi4", "mobilenet_v2_1.0_224", "fp32")
    slow, fast = (predict(counts, cost, _core("raspi4"), PARAMS, ghz, 4) for ghz in (1.5, 1.8))
    assert fast.latency_ms < slow.latency_ms
    assert fast.compute_total_ms == pytest.approx(slow.compute_total_ms * 1.5 / 1.8)
    assert fast.memory_total_ms == pytest.approx(slow.memory_total_ms)
    # a faster clock can only turn compute-bound operators memory-bound
    assert fast.memory_bound_ops >= slow.memory_bound_ops


def test_each_operator_takes_the_longer_of_compute_and_memory() -> None:
    counts, cost = _record("raspi4", "mobilenet_v3_large_1.0_224", "fp32")
    pred = predict(counts, cost, _core("raspi4"), PARAMS, 1.5, 4)
    assert max(pred.compute_total_ms, pred.memory_total_ms) < pred.latency_ms
    assert pred.latency_ms < pred.compute_total_ms + pred.memory_total_ms
    assert pred.compute_ms + pred.memory_ms == pytest.approx(pred.latency_ms)
    assert sum(pred.per_op_ms) == pytest.approx(pred.latency_ms)
    assert 0 < pred.memory_bound_ops < len([o for o in cost.ops if not o.fused])
    # memory-bound: the elementwise passes and the batch-1 fully connected layers (MBs of weights for
    # one row of input); compute-bound: the convolutions that hold most of the multiply-accumulates
    flags = list(zip(cost.ops, pred.per_op_memory_bound, strict=True))
    assert all(b for o, b in flags if o.op == "FULLY_CONNECTED") and any(b for o, b in flags if o.op == "HARD_SWISH")
    assert sum(o.macs for o, b in flags if not b) > 0.5 * cost.macs


def test_lower_bandwidth_only_slows_the_memory_bound_operators() -> None:
    counts, cost = _record("raspi4", "mobilenet_v2_1.0_224", "fp32")
    base = predict(counts, cost, _core("raspi4"), PARAMS, 1.5, 4)
    slow = predict(counts, cost, _core("raspi4"), replace(PARAMS, beta=PARAMS.beta / 2), 1.5, 4)
    assert slow.compute_total_ms == base.compute_total_ms
    assert base.latency_ms < slow.latency_ms < base.latency_ms + base.memory_total_ms


def test_int8_kernels_use_the_int8_efficiency() -> None:
    fp32, int8 = _record("raspi4", "mobilenet_v2_1.0_224", "fp32"), _record("raspi4", "mobilenet_v2_1.0_224", "int8")
    assert int_share(fp32[0]) == 0.0 and int_share(int8[0]) == pytest.approx(1.0, abs=1e-4)
    assert predict(*fp32, _core("raspi4"), PARAMS, 1.5, 4).k == pytest.approx(1.7)
    assert predict(*int8, _core("raspi4"), PARAMS, 1.5, 4).k == pytest.approx(1.0, abs=1e-4)
    half = CoreParams(2.0, 0.5).k(0.5)
    assert half == pytest.approx(1.0)  # geometric blend of a partly quantized model


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
    assert thread_scale(1, 0.99) == 1.0 and thread_scale(4, 0.99) == pytest.approx(0.2575)


def test_borrowed_parameters_and_missing_ones() -> None:
    nano = _core("jetson-nano")
    assert nano.name == "cortex-a57" and PARAMS.for_core(nano) == (PARAMS.cores["cortex-a72"], "cortex-a72")
    orphan = replace(nano, params_from="")
    assert PARAMS.for_core(orphan) is None
    with pytest.raises(Exception, match="no fitted parameters"):
        predict({"neon_fmla": 1e6}, ModelCost((), "size-only", 0), orphan, PARAMS, 1.43, 4)


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
    # working set 2000 > cache 1000: half the activations spill, and the weights stream every inference
    assert spilled_bytes(ModelCost((op,), "tflite-static", 3000), 1000)[0] == pytest.approx(500 + 1000)


def test_int8_moves_fewer_bytes_than_fp32() -> None:
    (_, fp32), (_, int8) = (_record("raspi4", "mobilenet_v2_1.0_224", p) for p in ("fp32", "int8"))
    assert fp32.macs == int8.macs == 300_774_272  # MobileNetV2 1.0 224: the published 300M MACs
    assert int8.weight_bytes < fp32.weight_bytes / 3.5
    assert spilled_bytes(int8, 1 << 20)[0] < spilled_bytes(fp32, 1 << 20)[0] / 3


def test_new_architectures_have_their_published_work() -> None:
    """The calibration models built in plain torch do the work their papers state."""
    expected = {
        "mobilenet_v3_large_1.0_224": 216.6e6,
        "mobilenet_v3_small_1.0_224": 56.5e6,
        "efficientnet_lite0_224": 385.2e6,
    }
    for model, macs in expected.items():
        target = "raspi4" if model.startswith("mobilenet") else "android-arm64"
        assert _record(target, model, "fp32")[1].macs == pytest.approx(macs, rel=0.01)


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
