"""A variant slower than fp32 says why, from its own op profile (recorded on this machine: MobileNetV2,
onnxruntime on the host, 1 thread; the profiles are edgekit's own, trimmed of per-node rows)."""

from __future__ import annotations

import json
from pathlib import Path

from edge_kit.benchmark.explain import dot_product, why_slower

DATA = Path(__file__).parent / "data"


def _load(name: str) -> dict:
    return json.loads((DATA / name).read_text())


def test_ort_dynamic_int8_slower_than_fp32_names_conv_integer_and_the_missing_dot_product():
    slow, fp32 = _load("ort_int8_dynamic_profile.json"), _load("ort_fp32_profile.json")
    text = why_slower(slow, fp32)
    conv = next(o for o in slow["ops"]["by_op_type"] if o["op"] == "ConvInteger")
    assert text.startswith(f"its op profile: ConvInteger {conv['mean_us'] / 1000:.1f} ms ({conv['share']:.0%})")
    assert "fp32: Conv" in text and "dynamic int8 path" in text
    assert "no int8 dot product (avx512_vnni/avx_vnni/amx_int8)" in text  # this host: AVX2, no VNNI
    assert "'" not in text  # the HTML table shows it verbatim


def test_the_cpu_features_decide_the_dot_product_sentence():
    machine = _load("ort_int8_dynamic_profile.json")["machine"]
    assert dot_product(machine) == (False, "avx512_vnni/avx_vnni/amx_int8")
    vnni = {**machine, "cpu": {**machine["cpu"], "features": [*machine["cpu"]["features"], "avx_vnni"]}}
    assert dot_product(vnni)[0] is True
    pi5 = {"machine": "aarch64", "cpu": {"features": ["fp", "asimd", "asimddp"]}}
    assert dot_product(pi5)[0] is True and dot_product({"machine": "aarch64", "cpu": {}}) == (None, "")


def test_no_op_timings_is_said_not_guessed():
    text = why_slower({"ops": {"available": False, "note": "per-operator timings not available: LiteRT"}}, None)
    assert text == "the runtime gives no per-op timings to say why (per-operator timings not available)"


def test_a_slower_int8_on_a_cpu_without_an_int8_dot_product_says_so():
    fp32 = _load("ort_fp32_profile.json")
    static = {**fp32, "ops": {"available": False, "note": "per-operator timings not available: LiteRT"}}
    text = why_slower(static, fp32, integer=True)
    assert text.endswith("no int8 dot product (avx512_vnni/avx_vnni/amx_int8): int8 kernels widen each product to "
                         "16/32 bits, so int8 need not beat fp32 here")  # fmt: skip
    assert "dot product" not in why_slower(static, fp32, integer=False)  # fp16: not an int8 matter
