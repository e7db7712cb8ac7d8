"""Where MobileNetV2's int8 agreement goes: weights or activations, calibration or noise.

    .venv/bin/python benchmarks/diag_mobilenet_ptq.py

Runs torchvision's MobileNetV2 checkpoint on the 22 bundled photos in float, then quantized with
edgekit's own PT2E static per-channel path (the XNNPACK quantizer and ReLU6 fusion the
executorch exporter uses), in torch's reference kernels so every intermediate tensor can be read.
Prints, against fp32: fp16 and int8-weights-only agreement (with and without bias correction),
full int8 agreement and logit SQNR for three calibration sets (the 44 other views the benchmarks
use, 200 random crops, and the evaluated photos themselves as a leakage upper bound), and the
SQNR of every residual add; where the int8 noise is (weights vs activations vs ReLU6 outputs).
Last, the `*_equalized` recipes step by step (edge_kit.quant.equalize: residual streams, then
ReLU6 -> depthwise activations; edge_kit.quant.bias_correction; then activation ranges keeping
the central 99.99 % instead of the quantizer's histogram search), on the 22 photos and on 132
other random crops, and where the noise the full recipe leaves is, by kind of tensor. A
diagnosis, not a test: nothing here is asserted. About 5 min on 2 cores.
"""

from __future__ import annotations

import copy
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edge_kit.quant import bias_correction, pt2e  # noqa: E402
from edge_kit.quant.equalize import equalize  # noqa: E402
from sample_models.mobilenet import _PHOTOS, _as_rgb_uint8, _preprocess, load_crops, mobilenet_v2  # noqa: E402

LAYERS = (torch.nn.Conv2d, torch.nn.Linear)


def views(rgbs: list[np.ndarray], specs: list[tuple[float, bool]]) -> torch.Tensor:
    """Each photo at each (zoom, mirrored) view, photos innermost."""
    return torch.from_numpy(np.stack([_preprocess(r, 224, z, f) for z, f in specs for r in rgbs]))


def weight_grid(w: torch.Tensor) -> torch.Tensor:
    """Per-output-channel symmetric int8 (scale max|w|/127): the grid all three formats use."""
    scale = w.abs().amax(dim=tuple(range(1, w.dim())), keepdim=True) / 127
    return (w / scale).round().clamp(-127, 127) * scale


def channel_mean(t: torch.Tensor) -> torch.Tensor:
    return t.mean(dim=(0, 2, 3)) if t.dim() == 4 else t.mean(0)


def fold_bn(model: torch.nn.Module) -> torch.nn.Module:
    """A copy with every Conv2d+BatchNorm2d pair folded into one biased conv."""
    model = copy.deepcopy(model)
    for seq in [m for m in model.modules() if isinstance(m, torch.nn.Sequential)]:
        items = list(seq._modules.items())
        for (_, conv), (bn_name, bn) in zip(items, items[1:]):
            if isinstance(conv, torch.nn.Conv2d) and isinstance(bn, torch.nn.BatchNorm2d):
                scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
                conv.weight.data = conv.weight.data * scale[:, None, None, None]
                conv.bias = torch.nn.Parameter(bn.bias.data - bn.running_mean * scale)
                seq._modules[bn_name] = torch.nn.Identity()
    return model


def weights_only(folded: torch.nn.Module, calib: torch.Tensor | None) -> torch.nn.Module:
    """int8-grid weights, float activations; with `calib`, each layer's bias absorbs the mean
    output shift its own rounding causes on the quantized network's input (bias correction)."""
    model = copy.deepcopy(folded)

    def hook(mod: Any, inputs: tuple[torch.Tensor, ...], out: torch.Tensor) -> torch.Tensor:
        weight = weight_grid(mod.weight)
        y = (
            mod._conv_forward(inputs[0], weight, mod.bias)
            if isinstance(mod, torch.nn.Conv2d)
            else torch.nn.functional.linear(inputs[0], weight, mod.bias)
        )
        if calib is None:
            return y
        shift = channel_mean(out) - channel_mean(y)
        mod.bias.data += shift
        return y + (shift[None, :, None, None] if y.dim() == 4 else shift)

    hooks = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, LAYERS)]
    with torch.no_grad():
        model(calib if calib is not None else torch.zeros(1, 3, 224, 224))
    for h in hooks:
        h.remove()
    for m in model.modules():
        if isinstance(m, LAYERS):
            m.weight.data = weight_grid(m.weight.data)
    return model


def int8_static(
    model: torch.nn.Module, calib: torch.Tensor, fold_quantize: bool = True, percentile: float | None = None
) -> Any:
    """edgekit's ExecuTorch int8 path (XNNPACK quantizer, per-channel, ReLU6 fused); activation
    ranges from the quantizer's histogram search, or keeping the central `percentile` %."""
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
        XNNPACKQuantizer,
        get_symmetric_quantization_config,
    )

    source = SimpleNamespace(
        exported_program=torch.export.export(model, (calib[:1],)), example_inputs=lambda: (calib[:1],)
    )
    config = get_symmetric_quantization_config(is_per_channel=True)
    if percentile is not None:
        config = pt2e.with_activation_calibration(
            config, SimpleNamespace(calibration_method="percentile", percentile=percentile, histogram_bins=2048)
        )
    quantizer = XNNPACKQuantizer().set_global(config)
    return pt2e.quantize(
        source, quantizer, [[calib[i : i + 1].numpy()] for i in range(len(calib))], fold_quantize=fold_quantize
    )


def run(model: Any, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([model(x[i : i + 1]) for i in range(len(x))])


def sqnr(ref: torch.Tensor, out: torch.Tensor) -> float:
    return 10 * float(torch.log10((ref**2).sum() / ((ref - out) ** 2).sum()))


def agreement(ref: torch.Tensor, out: torch.Tensor) -> str:
    same = out.argmax(-1) == ref.argmax(-1)
    flipped = (~same).nonzero().flatten().tolist()
    return f"{100 * same.float().mean():5.1f}% ({int(same.sum())}/{len(same)}; flipped rows {flipped})"


def bypassed(quantized: Any, weights: bool, activations: Any = None) -> Any:
    """A copy of a converted PT2E graph with some quantization undone: every weight's (`weights`),
    and the activations whose producer `activations(node)` accepts. Shows where the noise is."""
    module = copy.deepcopy(quantized)
    for node in list(module.graph.nodes):
        target = str(node.target)
        if node.op != "call_function" or not target.startswith("quantized_decomposed.dequantize"):
            continue
        q = node.args[0]
        source = q.args[0] if getattr(q, "op", "") == "call_function" else None
        if source is None:
            continue
        is_weight = source.op == "get_attr"
        if (is_weight and weights) or (not is_weight and activations is not None and activations(source)):
            node.replace_all_uses_with(source)
    module.graph.eliminate_dead_code()
    module.recompile()
    return module


class AddRecorder(torch.fx.Interpreter):
    """Runs a graph module, keeping each residual add's output by module path."""

    def __init__(self, module: Any, seen: dict[str, list[torch.Tensor]]) -> None:
        super().__init__(module)
        self.seen = seen

    def run_node(self, node: Any) -> Any:
        out = super().run_node(node)
        if node.op == "call_function" and pt2e.op_name(node) == "add":
            self.seen.setdefault(pt2e.module_path(node) or "?", []).append(out.detach().clone())
        return out


def tensor_group(node: Any) -> str:
    """Which kind of MobileNetV2 activation a quantized node's input is (by module path)."""
    if node.op == "placeholder":
        return "input"
    path, op = pt2e.module_path(node) or "", pt2e.op_name(node)
    if op in pt2e.CLAMPS:
        depthwise = path.endswith("conv.1.2") or path == "features.1.conv.0.2"
        return (
            "depthwise outputs"
            if depthwise
            else "expansion outputs"
            if path.endswith("conv.0.2")
            else "first conv output"
            if path == "features.0.2"
            else "last conv, pool, classifier"
        )
    if op == "add":
        return "residual adds"
    return "projection outputs" if op == "conv2d" else "last conv, pool, classifier"


def noise_budget(quantized: Any, ref: torch.Tensor, photos: torch.Tensor) -> None:
    """Logit SQNR with int8 weights and only one group of activations int8, and that group's share
    of the full int8 noise power (noise powers of independent sources add)."""
    groups: dict[str, set[str]] = {}
    for node in quantized.graph.nodes:
        if node.op == "call_function" and str(node.target).startswith("quantized_decomposed.quantize"):
            source = node.args[0]
            if getattr(source, "op", "") != "get_attr":
                groups.setdefault(tensor_group(source), set()).add(source.name)
    noise = lambda out: float(((ref - out) ** 2).sum() / (ref**2).sum())  # noqa: E731
    total = noise(run(quantized, photos))
    weights = noise(run(bypassed(quantized, False, lambda node: True), photos))
    print(
        f"    all int8 {10 * np.log10(1 / total):.1f} dB; int8 weights only {10 * np.log10(1 / weights):.1f} dB "
        f"({100 * weights / total:.0f}% of the noise power)"
    )
    for name, members in sorted(groups.items(), key=lambda g: -len(g[1])):
        alone = noise(run(bypassed(quantized, False, lambda node, m=members: node.name not in m), photos))
        print(
            f"    + {name:28s} ({len(members):2d} tensors) int8: {10 * np.log10(1 / alone):5.1f} dB, "
            f"{100 * (alone - weights) / total:3.0f}% of the noise power"
        )


def residual_adds(module: Any, x: torch.Tensor) -> dict[str, torch.Tensor]:
    seen: dict[str, list[torch.Tensor]] = {}
    with torch.no_grad():
        for i in range(len(x)):
            AddRecorder(module, seen).run(x[i : i + 1])
    return {k: torch.cat(v) for k, v in seen.items()}


def main() -> None:
    torch.set_num_threads(2)
    start = time.perf_counter()
    rgbs = [_as_rgb_uint8(load()) for load in _PHOTOS.values()]
    model = mobilenet_v2(pretrained=True)
    photos = views(rgbs, [(1.0, False)])
    ref = run(model, photos)
    top2 = ref.topk(2).values
    margins = (top2[:, 0] - top2[:, 1]).numpy()
    print(
        f"{len(photos)} photos; top-1/top-2 logit margin: median {np.median(margins):.2f}, "
        f"{int((margins < 0.5).sum())} under 0.5, smallest {margins.min():.2f}"
    )
    half = copy.deepcopy(model).half()
    print(f"fp16 (whole model in half)              {agreement(ref, run(half, photos.half()).float())}")

    other_views = views(rgbs, [(1.0, True), (1.25, False)])
    folded = fold_bn(model)
    for name, calib in (
        ("int8 weights only, float activations  ", None),
        ("  + bias correction (44 other views)  ", other_views),
    ):
        out = run(weights_only(folded, calib), photos)
        print(f"{name}  {agreement(ref, out)}  logit SQNR {sqnr(ref, out):.1f} dB")

    calibrations = {
        "44 other views (mirrored, 1.25x zoom)": other_views,
        "200 random crops": torch.from_numpy(load_crops(200)),
        "the 22 evaluated photos + views (leak)": views(rgbs, [(1.0, False), (1.0, True), (1.25, False)]),
    }
    quantized = None
    for name, calib in calibrations.items():
        quantized = int8_static(model, calib)
        out = run(quantized, photos)
        print(f"int8 static, calibrated on {name:40s} {agreement(ref, out)}  logit SQNR {sqnr(ref, out):.1f} dB")

    relu6 = lambda node: node.op == "call_function" and pt2e.op_name(node) in pt2e.CLAMPS  # noqa: E731
    view_batches = [[other_views[i : i + 1].numpy()] for i in range(len(other_views))]
    streamed = equalize(torch.export.export(model, (photos[:1],)), view_batches)[0].module()
    print("Where the int8 noise is (44-view calibration; logit SQNR on the 22 photos):")
    for label, net in (("plain", model), ("streams equalized", streamed)):
        unquantized = int8_static(net, other_views, fold_quantize=False)
        for name, weights, acts in (
            ("weights int8, activations float", False, lambda node: True),
            ("activations int8, weights float", True, None),
            ("  ... and ReLU6 outputs float", True, relu6),
        ):
            print(f"  {label:18s} {name:34s} {sqnr(ref, run(bypassed(unquantized, weights, acts), photos)):5.1f} dB")
    print("SQNR of the residual stream (int8, first calibration set) vs fp32:")
    float_adds = residual_adds(torch.export.export(model, (photos[:1],)).module(), photos)
    quantized = int8_static(model, other_views)
    for path, value in residual_adds(quantized, photos).items():
        if path in float_adds:
            ref_add = float_adds[path]
            print(
                f"  {path:12s} range [{ref_add.min():7.2f}, {ref_add.max():6.2f}]  SQNR {sqnr(ref_add, value):5.1f} dB"
            )

    exported = torch.export.export(model, (photos[:1],))
    dev = torch.from_numpy(load_crops(132, seed=7))  # another 132 crops: a view set where 1 photo is not 4.5 points
    dev_ref = run(model, dev)
    print(
        "The *_equalized recipes, step by step (equalization and bias correction measured on the "
        "calibration set; 22 photos | 132 other random crops):"
    )
    for name in ("44 other views (mirrored, 1.25x zoom)", "200 random crops"):
        calib = calibrations[name]
        batches = [[calib[i : i + 1].numpy()] for i in range(len(calib))]
        print(f"  calibrated on {name}:")
        streams, done = equalize(exported, batches)
        both, both_done = equalize(exported, batches, activations=True)
        corrected, layers = bias_correction.corrected(
            both, bias_correction.measure(both, batches, "executorch"), lambda node: True
        )
        steps = [
            ("plain", exported, None),
            (f"streams equalized ({done['streams']} / {done['channels']} ch)", streams, None),
            (f"+ activations ({both_done['activations']} / {both_done['activation_channels']} ch)", both, None),
            (f"+ weight bias correction ({layers} layers)", corrected, None),
            ("+ percentile 99.99 activation ranges", corrected, 99.99),
        ]
        for step, program, percentile in steps:
            quantized = int8_static(program.module(), calib, percentile=percentile)
            out, dev_out = run(quantized, photos), run(quantized, dev)
            print(
                f"    {step:38s} {agreement(ref, out)}  SQNR {sqnr(ref, out):4.1f} dB | "
                f"{100 * float((dev_out.argmax(-1) == dev_ref.argmax(-1)).float().mean()):5.1f}%  "
                f"SQNR {sqnr(dev_ref, dev_out):4.1f} dB"
            )
        if name.startswith("44"):
            print("  where the noise left by the full recipe is (44-view calibration, 22 photos):")
            noise_budget(int8_static(corrected.module(), calib, fold_quantize=False, percentile=99.99), ref, photos)
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
