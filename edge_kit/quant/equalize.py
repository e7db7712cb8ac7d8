"""Residual-stream equalization before static int8 (recipes with `equalize_streams = true`).

A linear stream — conv(+BatchNorm) outputs joined only by adds and read only by convs, like
MobileNetV2's bottlenecks — carries no activation, so scaling its channel c by 1/s_c where it
is written and by s_c in the convs that read it leaves the float model unchanged. Per-tensor
int8 activations then need one range for channels that were far apart; the readers'
per-channel int8 weights absorb the difference. s_c = range_x^alpha / range_w^(1-alpha), alpha
0.5 (cross-layer equalization, SmoothQuant). Measured: docs/quantization.md.

Works on a copy of a torch source's ExportedProgram; the source itself is never modified.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edge_kit.quant.pt2e import op_name

ALPHA = 0.5
SCALE_LIMIT = 1e3  # bound on s and 1/s: no channel is rescaled by more than this
_CONVS = ("conv1d", "conv2d")


@dataclass
class Stream:
    """Writers (batch_norm or conv nodes), every node whose output is on the stream, readers."""

    writers: list[Any] = field(default_factory=list)
    nodes: list[Any] = field(default_factory=list)
    readers: list[Any] = field(default_factory=list)


def _op(node: Any) -> str:
    return op_name(node) if node.op == "call_function" else ""


def _attr(node: Any) -> str | None:
    return node.target if getattr(node, "op", None) == "get_attr" else None


def _is_writer(node: Any) -> bool:
    """An affine batch_norm (inference) or a conv: output channel c scales with its parameters."""
    if _op(node) == "batch_norm":
        return _attr(node.args[1]) is not None and _attr(node.args[2]) is not None and not node.args[5]
    return _op(node) in _CONVS and _attr(node.args[1]) is not None and (
        len(node.args) < 3 or node.args[2] is None or _attr(node.args[2]) is not None)


def _is_add(node: Any) -> bool:
    return (_op(node) == "add" and len(node.args) == 2 and not node.kwargs
            and all(hasattr(a, "users") for a in node.args))


def _is_reader_of(node: Any, value: Any) -> bool:
    """A plain conv (groups 1, parameter weight) taking `value` as its input."""
    groups = node.args[6] if len(node.args) > 6 else 1
    return (_op(node) in _CONVS and node.args[0] is value and groups == 1
            and _attr(node.args[1]) is not None and all(a is not value for a in node.args[1:]))


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
    return [p for w in stream.writers for p in _writer_params(w)] + [_attr(r.args[1]) for r in stream.readers]


def _exclusive(streams: list[Stream]) -> list[Stream]:
    """Drop streams sharing a parameter with another (scaling it twice would break the model),
    and conv writers that also read their own stream."""
    counts: dict[str, int] = {}
    for stream in streams:
        for name in set(_params(stream)):
            counts[name] = counts.get(name, 0) + 1
    return [s for s in streams if all(counts[n] == 1 for n in set(_params(s)))
            and not set(s.writers) & set(s.readers)]


def channel_ranges(graph_module: Any, streams: Sequence[Stream],
                   batches: Iterable[Sequence[np.ndarray]]) -> list[Any]:
    """Per-channel max |value| over every tensor on each stream, on the calibration batches."""
    import torch

    index = {node: k for k, stream in enumerate(streams) for node in stream.nodes}
    ranges: list[Any] = [None] * len(streams)

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

    w_range = torch.stack([state[_attr(r.args[1])].abs().transpose(0, 1).flatten(1).amax(1)
                           for r in stream.readers]).amax(0)
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
        weight = state[_attr(reader.args[1])]
        weight.data.mul_(with_dims(weight, 1))


def equalize(program: Any, batches: Sequence[Sequence[np.ndarray]]) -> tuple[Any, dict[str, int]]:
    """A copy of `program` with its linear streams equalized, and what was done
    (`streams`, `channels`). The float function is unchanged up to rounding."""
    graph_module = program.module()
    streams = [s for s in find_streams(graph_module) if all(p in program.state_dict for p in _params(s))]
    ranges = channel_ranges(graph_module, streams, batches) if streams else []
    measured = [(s, r) for s, r in zip(streams, ranges) if r is not None]
    if not measured:
        return program, {"streams": 0, "channels": 0}
    equalized = copy.deepcopy(program)
    state = equalized.state_dict
    for stream, x_range in measured:
        _apply(stream, _scales(stream, x_range, state), state)
    return equalized, {"streams": len(measured), "channels": sum(int(r.numel()) for _, r in measured)}
