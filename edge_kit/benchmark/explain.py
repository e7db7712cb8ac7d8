"""Why a quantized variant is slower than fp32 in the same format, from its own op profile.

The explanation is read, not assumed: the op types that take the variant's time next to what
the fp32 variant's ops take, plus the CPU features the kernels could have used. A known slow
path is named when its operators dominate the profile: onnxruntime's dynamic int8
(`quantize_dynamic`) runs every convolution as DynamicQuantizeLinear → ConvInteger → Cast → Mul,
with no depthwise kernel and, on CPUs without an int8 dot product (x86 AVX-VNNI / AVX512-VNNI,
Arm SDOT/UDOT), integer products widened in 16/32-bit registers.
"""

from __future__ import annotations

from typing import Any

from edge_kit.benchmark.figures import load_json

# Operators of a known slow int8 path, and what it is.
SLOW_PATHS = {
    ("ConvInteger", "MatMulInteger"): (
        "the dynamic int8 path of onnxruntime (activations quantized at run time by DynamicQuantizeLinear, "
        "ConvInteger/MatMulInteger, then Cast and Mul back to float, per layer; no depthwise int8 kernel)"
    ),
}
DOT_PRODUCT = {  # CPU feature flags (/proc/cpuinfo) of an int8 dot-product instruction
    "x86_64": ("avx512_vnni", "avx_vnni", "amx_int8"),
    "aarch64": ("asimddp",),
}
SLOWER = 0.95  # below this speedup over fp32 a variant is called slower


def _ops(profile: dict[str, Any]) -> list[dict[str, Any]]:
    return list((profile.get("ops") or {}).get("by_op_type") or [])


def _top(ops: list[dict[str, Any]], n: int = 3) -> str:
    return ", ".join(f"{o['op']} {o['mean_us'] / 1000:.1f} ms ({o['share']:.0%})" for o in ops[:n])


def dot_product(machine: dict[str, Any]) -> tuple[bool | None, str]:
    """(has an int8 dot product, the instructions' names) for the profiled CPU; None when unknown."""
    arch = machine.get("machine") or ""
    names = DOT_PRODUCT.get(arch)
    features = set((machine.get("cpu") or {}).get("features") or [])
    if not names or not features:
        return None, ""
    return bool(features & set(names)), "/".join(names)


def why_slower(variant: dict[str, Any], fp32: dict[str, Any] | None, integer: bool = False) -> str:
    """One paragraph from the two profiles (and, for an `integer` variant, the CPU's int8 dot product)."""
    ops, matched = _ops(variant), False
    if not ops:
        note = (variant.get("ops") or {}).get("note") or "no per-operator timings"
        text = f"the runtime gives no per-op timings to say why ({note.split(':')[0]})"
    else:
        text = f"its op profile: {_top(ops)}"
        base = _ops(fp32 or {})
        if base:
            text += f"; fp32: {_top(base, 2)}"
    has, instructions = dot_product(variant.get("machine") or {})
    for names, what in SLOW_PATHS.items():
        share = sum(o["share"] for o in ops if o["op"] in names)
        if share >= 0.3:
            matched = True
            text += f". {share:.0%} of the time is {what}"
            if has is False:
                text += f"; this CPU has no int8 dot product ({instructions}), so its integer kernels are slower here"
            text += "; static int8 (QDQ) does not take this path"
    if integer and not matched and has is False:
        text += (
            f"; this CPU has no int8 dot product ({instructions}): int8 kernels widen each product to 16/32 bits, "
            "so int8 need not beat fp32 here"
        )
    return text


def explain_slower(rows: list[dict[str, Any]]) -> None:
    """Set `slower_than_fp32` on every non-fp32 row slower than the fp32 row of its format."""
    fp32 = {r["format"]: r for r in rows if r["precision"] == "fp32"}
    for row in rows:
        speedup = row.get("speedup_vs_fp32")
        if row["precision"] == "fp32" or speedup is None or speedup >= SLOWER:
            continue
        mine = load_json_profile(row)
        base = load_json_profile(fp32[row["format"]]) if row["format"] in fp32 else None
        integer = str(row["precision"]).startswith("int8")
        row["slower_than_fp32"] = f"{1 / speedup:.1f}x slower than fp32: " + why_slower(mine or {}, base, integer)


def load_json_profile(row: dict[str, Any]) -> dict[str, Any] | None:
    from pathlib import Path

    return load_json(Path(row["folder"]) / "profile" / "profile.json")
