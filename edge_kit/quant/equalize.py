"""Channel equalization before static int8 (recipes with `equalize_streams` / `equalize_activations`).

A linear stream — conv(+BatchNorm) outputs joined only by adds and read only by convs, like
MobileNetV2's bottlenecks — carries no activation, so scaling its channel c by 1/s_c where it
is written and by s_c in the convs that read it leaves the float model unchanged. Per-tensor
int8 activations then need one range for channels that were far apart; the readers'
per-channel int8 weights absorb the difference. s_c = range_x^alpha / range_w^(1-alpha), alpha
0.5 (cross-layer equalization, SmoothQuant). Measured: docs/quantization.md.

Activations (`equalize_activations`): a conv(+BatchNorm) whose only user is a ReLU or ReLU6
read only by depthwise convs, like MobileNetV2's expansion layers. Per-channel weights on both
sides absorb a channel scale for free, so channel c is scaled up by s_c >= 1 where it is written
and down in the depthwise weights, until its calibrated maximum reaches half the clamp's cap
(ReLU6: 3) or, for ReLU, the tensor's maximum. The float model is unchanged for values up to
twice the calibration range (a ReLU6 channel would clip earlier beyond that).

Works on a copy of a torch source's ExportedProgram; the source itself is never modified.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edge_kit.quant.pt2e import attr_target as _attr
from edge_kit.quant.pt2e import op_name

ALPHA = 0.5
SCALE_LIMIT = 1e3  # bound on s and 1/s: no channel is rescaled by more than this
HEADROOM = 2.0  # activations: a channel's calibrated maximum is scaled to cap / HEADROOM
_CONVS = ("conv1d", "conv2d")


@dataclass
class Stream:
    """Writers (batch_norm or conv nodes), every node whose output is on the stream, readers."""

    writers: list[Any] = field(default_factory=list)
    nodes: list[Any] = field(default_factory=list)
    readers: list[Any] = field(default_factory=list)


@dataclass
class Gate:
    """A writer whose only user is a ReLU/ReLU6 (`activation`, upper bound `cap`) read only by
    depthwise convs."""

    writer: Any
    activation: Any
    readers: list[Any]
    cap: float


def _op(node: Any) -> str:
    return op_name(node) if node.op == "call_function" else ""


def _param(node: Any) -> str:
    """The state entry of a parameter node the pattern checks already matched (`_attr` is set)."""
    name = _attr(node)
    assert name is not None, f"{node} is not a parameter"
    return name


def _is_writer(node: Any) -> bool:
    """An affine batch_norm (inference) or a conv: output channel c scales with its parameters."""
    if _op(node) == "batch_norm":
        return _attr(node.args[1]) is not None and _attr(node.args[2]) is not None and not node.args[5]
    return (
        _op(node) in _CONVS
        and _attr(node.args[1]) is not None
        and (len(node.args) < 3 or node.args[2] is None or _attr(node.args[2]) is not None)
    )


def _is_add(node: Any) -> bool:
    return (
        _op(node) == "add" and len(node.args) == 2 and not node.kwargs and all(hasattr(a, "users") for a in node.args)
    )


def _is_reader_of(node: Any, value: Any) -> bool:
    """A plain conv (groups 1, parameter weight) taking `value` as its input."""
    groups = node.args[6] if len(node.args) > 6 else 1
    return (
        _op(node) in _CONVS
        and node.args[0] is value
        and groups == 1
        and _attr(node.args[1]) is not None
        and all(a is not value for a in node.args[1:])
    )


def _grow(writer: Any) -> Stream | None:
    """The stream `writer` belongs to, or None when something other than adds and convs touches it."""
    stream, todo, seen = Stream(), [writer], set()
    while todo:
        node = todo.pop()
        if node in seen:
            continue
        seen.add(node)
        if _is_add(node):
            for arg in node.args:
                if not (_is_writer(arg) or _is_add(arg)):
                    return None
                todo.append(arg)
        elif _is_writer(node):
            stream.writers.append(node)
        else:
            return None
        stream.nodes.append(node)
        for user in node.users:
            if _is_add(user):
                todo.append(user)
            elif _is_reader_of(user, node):
                if user not in stream.readers:
                    stream.readers.append(user)
            else:
                return None
    return stream if stream.readers else None


def find_streams(graph_module: Any) -> list[Stream]:
    """Every equalizable stream of an (unlifted) exported graph module, in graph order."""
    streams: list[Stream] = []
    claimed: set[Any] = set()
    for node in graph_module.graph.nodes:
        if node in claimed or not _is_writer(node):
            continue
        stream = _grow(node)
        if stream is None:
            continue
        claimed.update(stream.nodes)
        streams.append(stream)
    return _exclusive(streams)


def _writer_params(writer: Any) -> list[str]:
    """A writer's weight and (when present) bias: what scales its output channels."""
    return [name for arg in writer.args[1:3] if arg is not None and (name := _attr(arg))]


def _params(stream: Stream) -> list[str]:
    """The parameter names a stream's scaling writes."""
    return [p for w in stream.writers for p in _writer_params(w)] + [_param(r.args[1]) for r in stream.readers]


def _exclusive(streams: list[Stream]) -> list[Stream]:
    """Drop streams sharing a parameter with another (scaling it twice would break the model),
    and conv writers that also read their own stream."""
    counts: dict[str, int] = {}
    for stream in streams:
        for name in set(_params(stream)):
            counts[name] = counts.get(name, 0) + 1
    return [s for s in streams if all(counts[n] == 1 for n in set(_params(s))) and not set(s.writers) & set(s.readers)]


def channel_ranges(
    graph_module: Any, groups: Sequence[Sequence[Any]], batches: Iterable[Sequence[np.ndarray]]
) -> list[Any]:
    """Per-channel max |value| over every tensor of each group of nodes, on the calibration batches."""
    import torch

    index = {node: k for k, nodes in enumerate(groups) for node in nodes}
    ranges: list[Any] = [None] * len(groups)

    class Recorder(torch.fx.Interpreter):
        def run_node(self, node: Any) -> Any:
            out = super().run_node(node)
            k = index.get(node)
            if k is not None:
                dims = [d for d in range(out.dim()) if d != 1]
                seen = out.detach().abs().amax(dim=dims)
                ranges[k] = seen if ranges[k] is None else torch.maximum(ranges[k], seen)
            return out

    with torch.no_grad():
        for arrays in batches:
            Recorder(graph_module).run(*[torch.from_numpy(np.ascontiguousarray(a)) for a in arrays])
    return ranges


def _scales(stream: Stream, x_range: Any, state: dict[str, Any]) -> Any:
    import torch

    w_range = torch.stack(
        [state[_param(r.args[1])].abs().transpose(0, 1).flatten(1).amax(1) for r in stream.readers]
    ).amax(0)
    scale = x_range.clamp_min(1e-12) ** ALPHA / w_range.clamp_min(1e-12) ** (1 - ALPHA)
    # A channel the calibration data never moved says nothing about its range: leave it as is.
    silent = (x_range <= 1e-6 * x_range.max()) | (w_range <= 0)
    return torch.where(silent, torch.ones_like(scale), scale.clamp(1 / SCALE_LIMIT, SCALE_LIMIT))


def _apply(stream: Stream, scale: Any, state: dict[str, Any]) -> None:
    """Writers' output channels / scale, readers' input channels * scale (in place on `state`)."""
    with_dims = lambda t, dim: scale.reshape([-1 if d == dim else 1 for d in range(t.dim())])  # noqa: E731
    for name in (p for w in stream.writers for p in _writer_params(w)):
        state[name].data.div_(with_dims(state[name], 0))
    for reader in stream.readers:
        weight = state[_param(reader.args[1])]
        weight.data.mul_(with_dims(weight, 1))


def _cap(node: Any) -> float | None:
    """The upper bound of a ReLU (inf) or a hardtanh/ReLU6 clamping at 0 from below; else None."""
    if _op(node) in ("relu", "relu_"):
        return float("inf")
    if _op(node) in ("hardtanh", "hardtanh_") and len(node.args) == 3 and node.args[1] == 0:
        return float(node.args[2]) if node.args[2] > 0 else None
    return None


def _is_depthwise_reader_of(node: Any, value: Any, state: dict[str, Any]) -> bool:
    """A depthwise conv (one output channel per input channel) taking `value` as its input."""
    name = _attr(node.args[1]) if _op(node) in _CONVS and len(node.args) > 6 else None
    weight = state.get(name) if name is not None else None
    return (
        weight is not None
        and node.args[0] is value
        and weight.shape[1] == 1
        and weight.shape[0] == node.args[6] > 1
        and all(a is not value for a in node.args[1:])
    )


def find_gates(graph_module: Any, state: dict[str, Any]) -> list[Gate]:
    """Every writer -> ReLU/ReLU6 -> depthwise-convs pattern whose parameters are in `state`."""
    gates = []
    for node in graph_module.graph.nodes:
        cap = _cap(node) if node.op == "call_function" and node.args else None
        if cap is None:
            continue
        writer = node.args[0]
        if writer is None or not _is_writer(writer) or len(writer.users) != 1:
            continue
        readers = list(node.users)
        if (
            readers
            and all(_is_depthwise_reader_of(r, node, state) for r in readers)
            and all(p in state for p in _writer_params(writer))
        ):
            gates.append(Gate(writer, node, readers, cap))
    return gates


def _gate_scales(gate: Gate, x_range: Any) -> Any:
    """s_c >= 1 bringing channel c's calibrated maximum to cap / HEADROOM (ReLU: the tensor's maximum)."""
    import torch

    target = x_range.max() if gate.cap == float("inf") else gate.cap / HEADROOM
    scale = (target / x_range.clamp_min(1e-12)).clamp(1.0, SCALE_LIMIT)
    silent = x_range <= 1e-6 * x_range.max()
    return torch.where(silent, torch.ones_like(scale), scale)


def _apply_gate(gate: Gate, scale: Any, state: dict[str, Any]) -> None:
    """The writer's output channels * scale, each depthwise reader's channels / scale (in place)."""
    for name in _writer_params(gate.writer):
        state[name].data.mul_(scale.reshape([-1] + [1] * (state[name].dim() - 1)))
    for reader in gate.readers:
        weight = state[_param(reader.args[1])]
        weight.data.div_(scale.reshape([-1] + [1] * (weight.dim() - 1)))


def equalize(
    program: Any, batches: Sequence[Sequence[np.ndarray]], streams: bool = True, activations: bool = False
) -> tuple[Any, dict[str, int]]:
    """A copy of `program` with its linear streams and/or its ReLU/ReLU6 -> depthwise activations
    equalized, and what was done. The float function is unchanged up to rounding (activations:
    for values within twice the calibration range)."""
    graph_module, state = program.module(), program.state_dict
    found = [s for s in find_streams(graph_module) if all(p in state for p in _params(s))] if streams else []
    gates = find_gates(graph_module, state) if activations else []
    groups = [s.nodes for s in found] + [[g.activation] for g in gates]
    ranges = channel_ranges(graph_module, groups, batches) if groups else []
    measured = [(s, r) for s, r in zip(found, ranges) if r is not None]
    gated = [(g, r) for g, r in zip(gates, ranges[len(found) :]) if r is not None]
    done = {"streams": len(measured), "channels": sum(int(r.numel()) for _, r in measured)}
    if activations:
        done.update(activations=len(gated), activation_channels=0)
    if not measured and not gated:
        return program, done
    equalized = copy.deepcopy(program)
    state = equalized.state_dict
    for stream, x_range in measured:  # streams first: their scales read the readers' original weights
        _apply(stream, _scales(stream, x_range, state), state)
    for gate, x_range in gated:
        scale = _gate_scales(gate, x_range)
        _apply_gate(gate, scale, state)
        done["activation_channels"] += int((scale > 1).sum())
    return equalized, done
