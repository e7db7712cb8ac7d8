"""Weight bias correction before static int8 (recipes with `bias_correction = true`).

Rounding a layer's weights to the int8 grid shifts the mean of its outputs, and the shifts of
successive layers add up instead of averaging out (MobileNetV2 with int8 weights and float
activations: logit SQNR 16 dB, ~28 dB once corrected; docs/quantization.md). The grid is
known: symmetric per output channel, scale max|w| / 127 (PT2E observers floor it at 2^-12),
after any following BatchNorm is folded in. So the expected shift E[(W_q - W) x] of each output
channel is measured on the calibration data and subtracted from the layer's bias, or from its
BatchNorm's shift (empirical bias correction, Nagel et al. 2019). The float model moves by
design; its int8 version comes closer to the original.

Layers kept in float (accuracy budget, `keep_float_ops`) must stay uncorrected: PT2E formats skip
them here by module path; the ONNX quantizer adds the shift back on the nodes it excludes
(`restore_excluded`), because its float model is exported once per export.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from edge_kit.quant.pt2e import attr_target as _attr
from edge_kit.quant.pt2e import module_path, op_name

LAYERS = ("conv1d", "conv2d", "linear")


def _scale_floor(fmt: str) -> float:
    """The smallest weight scale the format's int8 quantizer uses."""
    from edge_kit.registry import get_format

    return get_format(fmt).int8_weight_scale_floor


@dataclass(frozen=True)
class Correction:
    """One layer's measured shift: `node` in the exported graph, module `path`, the state_dict
    entry `param` it is subtracted from, and `delta` (one value per output channel)."""

    node: str
    path: str
    param: str
    delta: np.ndarray


def _tensor(graph_module: Any, node: Any) -> Any:
    return functools.reduce(getattr, node.target.split("."), graph_module)


def _target(layer: Any, graph_module: Any) -> tuple[str, Any] | None:
    """Where `layer`'s output shift can be undone, and the factor folding multiplies its weight by:
    the affine BatchNorm that alone reads it (its shift; gamma / sqrt(var + eps)), or its own bias."""
    import torch

    users = list(layer.users)
    bn = users[0] if len(users) == 1 and op_name(users[0]) == "batch_norm" else None
    if bn is not None and _attr(bn.args[1]) and (shift := _attr(bn.args[2])) and not bn.args[5]:
        var = _tensor(graph_module, bn.args[4])
        return shift, _tensor(graph_module, bn.args[1]) / torch.sqrt(var + bn.args[7])
    bias = _attr(layer.args[2] if len(layer.args) > 2 else None)
    return (bias, None) if bias else None


def _grid_error(weight: Any, eps: float) -> Any:
    """W_q - W on the symmetric per-output-channel int8 grid."""
    shape = [-1] + [1] * (weight.dim() - 1)
    scale = (weight.abs().flatten(1).amax(1) / 127).clamp_min(eps).reshape(shape)
    safe = scale.clamp_min(1e-30)
    return (weight / safe).round().clamp(-127, 127) * safe - weight


def measure(program: Any, batches: Sequence[Sequence[np.ndarray]], fmt: str) -> list[Correction]:
    """Each correctable layer's mean int8 output shift on the calibration batches."""
    import torch

    graph_module, state = program.module(), program.state_dict
    errors: dict[Any, tuple[str, Any]] = {}
    for node in graph_module.graph.nodes:
        weight = (
            state.get(_attr(node.args[1]))
            if node.op == "call_function" and op_name(node) in LAYERS and len(node.args) > 1
            else None
        )
        found = _target(node, graph_module) if weight is not None else None
        if weight is not None and found is not None and found[0] in state:
            param, fold = found
            folded = weight if fold is None else weight * fold.reshape([-1] + [1] * (weight.dim() - 1))
            errors[node] = (param, _grid_error(folded.detach(), _scale_floor(fmt)))
    sums: dict[Any, Any] = {}
    counts: dict[Any, int] = {}

    class Recorder(torch.fx.Interpreter):
        def run_node(self, node: Any) -> Any:
            if node in errors:
                x = self.env[node.args[0]]
                args = (x, errors[node][1], None, *node.args[3:])
                shift = node.target(*args)
                flat = shift.movedim(-1 if op_name(node) == "linear" else 1, 0).flatten(1)
                sums[node] = sums.get(node, 0) + flat.sum(1)
                counts[node] = counts.get(node, 0) + flat.shape[1]
            return super().run_node(node)

    with torch.no_grad():
        for arrays in batches:
            Recorder(graph_module).run(*[torch.from_numpy(np.ascontiguousarray(a)) for a in arrays])
    return [
        Correction(node.name, module_path(node) or "", param, (sums[node] / counts[node]).numpy())
        for node, (param, _) in errors.items()
        if node in sums
    ]


def corrected(program: Any, corrections: Sequence[Correction], quantized: Callable[[Any], bool]) -> tuple[Any, int]:
    """A copy of `program` with the shifts subtracted on the layers `quantized` accepts; how many."""
    import torch

    if not corrections:
        return program, 0
    out = copy.deepcopy(program)
    nodes = {node.name: node for node in out.module().graph.nodes}
    done = 0
    for c in corrections:
        if c.node in nodes and quantized(nodes[c.node]):
            out.state_dict[c.param].data.sub_(torch.from_numpy(c.delta).to(out.state_dict[c.param].dtype))
            done += 1
    return out, done


def restore_excluded(model: Any, excluded: set[str], corrections: Sequence[Correction]) -> int:
    """Add the shift back on ONNX Conv/Gemm nodes in `excluded` (kept in float); how many.

    ONNX initializers keep torch's parameter names (`features.3.conv.0.0.weight`), so a node's
    weight name gives the module path its correction was measured under."""
    from onnx import numpy_helper

    by_path = {c.path: c.delta for c in corrections}
    inits = {init.name: init for init in model.graph.initializer}
    restored = 0
    for node in model.graph.node:
        if node.name not in excluded or node.op_type not in ("Conv", "Gemm") or len(node.input) < 3:
            continue
        delta = by_path.get(node.input[1].removesuffix(".weight"))
        bias = inits.get(node.input[2])
        if delta is None or bias is None:
            continue
        value = numpy_helper.to_array(bias)
        if value.shape != delta.shape:
            continue
        bias.CopyFrom(numpy_helper.from_array((value + delta).astype(value.dtype), bias.name))
        restored += 1
    return restored
