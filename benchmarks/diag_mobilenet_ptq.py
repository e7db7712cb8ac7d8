"""Where MobileNetV2's int8 agreement goes: weights or activations, calibration or noise.

    .venv/bin/python benchmarks/diag_mobilenet_ptq.py

Runs torchvision's MobileNetV2 checkpoint on the 22 bundled photos in float, then quantized with
edgekit's own PT2E static per-channel path (the XNNPACK quantizer and ReLU6 fusion the
executorch exporter uses), in torch's reference kernels so every intermediate tensor can be read.
Prints, against fp32: fp16 and int8-weights-only agreement (with and without bias correction),
full int8 agreement and logit SQNR for three calibration sets (the 44 other views the benchmarks
use, 200 random crops, and the evaluated photos themselves as a leakage upper bound), and the
SQNR of every residual add. Last, the same with the linear residual streams equalized first
(edge_kit.quant.equalize, what the `*_equalized` recipes do).
A diagnosis, not a test: nothing here is asserted. About 1 min on 2 cores.
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

from edge_kit.quant import pt2e  # noqa: E402
from edge_kit.quant.equalize import equalize  # noqa: E402
from sample_models.mobilenet import _PHOTOS, _as_rgb_uint8, _preprocess, mobilenet_v2  # noqa: E402

LAYERS = (torch.nn.Conv2d, torch.nn.Linear)


def views(rgbs: list[np.ndarray], specs: list[tuple[float, bool]]) -> torch.Tensor:
    """Each photo at each (zoom, mirrored) view, photos innermost."""
    return torch.from_numpy(np.stack([_preprocess(r, 224, z, f) for z, f in specs for r in rgbs]))


def random_crops(rgbs: list[np.ndarray], n: int, seed: int = 1) -> torch.Tensor:
    """`n` random 224 crops of 1.05-1.6x zoomed, randomly mirrored photos (none equals an eval view)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        image = _preprocess(rgbs[i % len(rgbs)], 291, rng.uniform(1.05, 1.6), bool(rng.integers(2)))
        top, left = rng.integers(0, image.shape[1] - 224 + 1, 2)
        out.append(image[:, top:top + 224, left:left + 224])
    return torch.from_numpy(np.stack(out))


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
        y = (mod._conv_forward(inputs[0], weight, mod.bias) if isinstance(mod, torch.nn.Conv2d)
             else torch.nn.functional.linear(inputs[0], weight, mod.bias))
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


def int8_static(model: torch.nn.Module, calib: torch.Tensor) -> Any:
    """edgekit's ExecuTorch int8 path (XNNPACK quantizer, per-channel, histogram, ReLU6 fused)."""
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
        XNNPACKQuantizer, get_symmetric_quantization_config)

    source = SimpleNamespace(exported_program=torch.export.export(model, (calib[:1],)),
                             example_inputs=lambda: (calib[:1],))
    quantizer = XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True))
    return pt2e.quantize(source, quantizer, [[calib[i:i + 1].numpy()] for i in range(len(calib))])


def run(model: Any, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([model(x[i:i + 1]) for i in range(len(x))])


def sqnr(ref: torch.Tensor, out: torch.Tensor) -> float:
    return 10 * float(torch.log10((ref ** 2).sum() / ((ref - out) ** 2).sum()))


def agreement(ref: torch.Tensor, out: torch.Tensor) -> str:
    same = out.argmax(-1) == ref.argmax(-1)
    flipped = (~same).nonzero().flatten().tolist()
    return f"{100 * same.float().mean():5.1f}% ({int(same.sum())}/{len(same)}; flipped rows {flipped})"


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


def residual_adds(module: Any, x: torch.Tensor) -> dict[str, torch.Tensor]:
    seen: dict[str, list[torch.Tensor]] = {}
    with torch.no_grad():
        for i in range(len(x)):
            AddRecorder(module, seen).run(x[i:i + 1])
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
    print(f"{len(photos)} photos; top-1/top-2 logit margin: median {np.median(margins):.2f}, "
          f"{int((margins < 0.5).sum())} under 0.5, smallest {margins.min():.2f}")
    half = copy.deepcopy(model).half()
    print(f"fp16 (whole model in half)              {agreement(ref, run(half, photos.half()).float())}")

    other_views = views(rgbs, [(1.0, True), (1.25, False)])
    folded = fold_bn(model)
    print(f"int8 weights only, float activations    {agreement(ref, run(weights_only(folded, None), photos))}")
    print(f"  + bias correction (44 other views)    "
          f"{agreement(ref, run(weights_only(folded, other_views), photos))}")

    calibrations = {"44 other views (mirrored, 1.25x zoom)": other_views,
                    "200 random crops": random_crops(rgbs, 200),
                    "the 22 evaluated photos + views (leak)": views(rgbs, [(1.0, False), (1.0, True),
                                                                           (1.25, False)])}
    quantized = None
    for name, calib in calibrations.items():
        quantized = int8_static(model, calib)
        out = run(quantized, photos)
        print(f"int8 static, calibrated on {name:40s} {agreement(ref, out)}  logit SQNR {sqnr(ref, out):.1f} dB")

    print("SQNR of the residual stream (int8, first calibration set) vs fp32:")
    float_adds = residual_adds(torch.export.export(model, (photos[:1],)).module(), photos)
    quantized = int8_static(model, other_views)
    for path, value in residual_adds(quantized, photos).items():
        if path in float_adds:
            ref_add = float_adds[path]
            print(f"  {path:12s} range [{ref_add.min():7.2f}, {ref_add.max():6.2f}]  "
                  f"SQNR {sqnr(ref_add, value):5.1f} dB")

    crops = calibrations["200 random crops"]
    program, done = equalize(torch.export.export(model, (photos[:1],)),
                             [[crops[i:i + 1].numpy()] for i in range(len(crops))])
    equalized = program.module()
    print(f"residual streams equalized first ({done['streams']} streams, {done['channels']} channels; "
          f"the *_equalized recipes), float drift {float((run(equalized, photos) - ref).abs().max()):.1e}:")
    for name in ("44 other views (mirrored, 1.25x zoom)", "200 random crops"):
        out = run(int8_static(equalized, calibrations[name]), photos)
        print(f"  calibrated on {name:40s} {agreement(ref, out)}  logit SQNR {sqnr(ref, out):.1f} dB")
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
