"""onnx2torch converters for Reduce* (opset 18+: `axes` is an input) and Pad (every opset with `pads`
as an input, all four modes), reading those inputs at conversion time.

onnx2torch 1.5 stops at opset 13 for the reductions, and its Pad-11/13 module reads `pads` at run
time (`pads.tolist()`: a data-dependent value `torch.export` rejects); it has no Pad-18+ (`axes`
input, `wrap` mode). tf2onnx writes opset 18 by default, so Keras' GlobalAveragePooling (ReduceMean),
ZeroPadding2D (Pad) and TFLite's MirrorPad (Pad `reflect`) reach these converters from every Keras
and TFLite model bridged to ExecuTorch. The axes/pads must be constants (an initializer after
clean-up, or a Constant node); a computed one is named in a one-line NotImplementedError.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

Converter = Callable[[Any, Any], Any]

REDUCE_VERSIONS: dict[str, tuple[int, ...]] = {
    **{op: (18,) for op in ("ReduceMean", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceSumSquare")},
    **{op: (18,) for op in ("ReduceLogSum", "ReduceLogSumExp")},
    "ReduceMax": (18, 20),
    "ReduceMin": (18, 20),
}
PAD_VERSIONS = (11, 13, 18, 19, 21, 23, 24, 25)


def constant_input(node: Any, graph: Any, index: int, what: str) -> list[Any] | None:
    """The node's `index`-th input as a list when it is a constant; None when absent (or empty name).
    Raises NotImplementedError, naming `what`, when it is computed in the graph."""
    from onnx2torch.utils.common import get_const_value

    names = node.input_values
    if index >= len(names) or not names[index]:
        return None
    try:
        value = get_const_value(names[index], graph)
    except KeyError:
        raise NotImplementedError(
            f"{node.operation_type} with computed {what} ('{names[index]}'): only constant {what} convert"
        ) from None
    if isinstance(value, torch.Tensor):
        return value.reshape(-1).tolist()
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _result(module: nn.Module, node: Any) -> Any:
    from onnx2torch.utils.common import OnnxMapping, OperationConverterResult

    return OperationConverterResult(
        torch_module=module, onnx_mapping=OnnxMapping(inputs=node.input_values[:1], outputs=node.output_values)
    )


# ---------------------------------------------------------------------------------------------- Reduce


def _prod(x: torch.Tensor, dims: list[int], keepdim: bool) -> torch.Tensor:
    for axis in sorted(dims, reverse=True):  # highest first: the lower axes keep their index
        x = torch.prod(x, dim=axis, keepdim=keepdim)
    return x


_REDUCE: dict[str, Callable[[torch.Tensor, list[int], bool], torch.Tensor]] = {
    "ReduceMean": lambda x, d, k: torch.mean(x, dim=d, keepdim=k),
    "ReduceMax": lambda x, d, k: torch.amax(x, dim=d, keepdim=k),
    "ReduceMin": lambda x, d, k: torch.amin(x, dim=d, keepdim=k),
    "ReduceProd": _prod,
    "ReduceL1": lambda x, d, k: torch.sum(torch.abs(x), dim=d, keepdim=k),
    "ReduceL2": lambda x, d, k: torch.sqrt(torch.sum(x * x, dim=d, keepdim=k)),
    "ReduceSumSquare": lambda x, d, k: torch.sum(x * x, dim=d, keepdim=k),
    "ReduceLogSum": lambda x, d, k: torch.log(torch.sum(x, dim=d, keepdim=k)),
    "ReduceLogSumExp": lambda x, d, k: torch.logsumexp(x, dim=d, keepdim=k),
}


class StaticReduce(nn.Module):
    """An ONNX reduction over constant axes (None: all axes); `noop` returns the input unchanged."""

    def __init__(self, op_type: str, axes: list[int] | None, keepdims: bool, noop: bool) -> None:
        super().__init__()
        self.op_type, self.axes, self.keepdims, self.noop = op_type, axes, keepdims, noop

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.noop:
            return x
        dims = list(range(x.dim())) if self.axes is None else sorted({a % x.dim() for a in self.axes})
        return _REDUCE[self.op_type](x, dims, self.keepdims)


def convert_reduce(node: Any, graph: Any, _original: Converter | None = None) -> Any:
    """Reduce*-18+: inputs data, axes (optional); attributes keepdims, noop_with_empty_axes."""
    axes = constant_input(node, graph, 1, "axes") or None  # absent or empty: all axes (or a no-op)
    noop = axes is None and bool(node.attributes.get("noop_with_empty_axes", 0))
    keepdims = bool(node.attributes.get("keepdims", 1))
    return _result(StaticReduce(node.operation_type, [int(a) for a in axes or []] or None, keepdims, noop), node)


# ---------------------------------------------------------------------------------------------- Pad


def _slice(x: torch.Tensor, axis: int, start: int, end: int | None) -> torch.Tensor:
    return x[(slice(None),) * axis + (slice(start, end),)]


def _pad_axis(x: torch.Tensor, axis: int, begin: int, end: int, mode: str) -> torch.Tensor:
    """Pad (or, for negative amounts, crop) one axis in reflect/edge/wrap mode with slices and concat."""
    size = x.shape[axis]
    x = _slice(x, axis, max(-begin, 0), size - max(-end, 0))
    begin, end, size = max(begin, 0), max(end, 0), x.shape[axis]
    if mode == "reflect":
        if begin >= size or end >= size:
            raise ValueError(f"reflect padding of {max(begin, end)} on an axis of length {size}")
        head = torch.flip(_slice(x, axis, 1, begin + 1), dims=[axis])
        tail = torch.flip(_slice(x, axis, size - 1 - end, size - 1), dims=[axis])
    elif mode == "edge":
        head = torch.cat([_slice(x, axis, 0, 1)] * begin, dim=axis) if begin else _slice(x, axis, 0, 0)
        tail = torch.cat([_slice(x, axis, size - 1, size)] * end, dim=axis) if end else _slice(x, axis, 0, 0)
    else:  # wrap
        head, tail = _slice(x, axis, size - begin, size), _slice(x, axis, 0, end)
    return torch.cat([head, x, tail], dim=axis)


class StaticPad(nn.Module):
    """ONNX Pad with constant pads: `pads[axis] = (begin, end)` for the padded axes only."""

    def __init__(self, pads: dict[int, tuple[int, int]], mode: str, value: float) -> None:
        super().__init__()
        self.pads, self.mode, self.value = pads, mode, value

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = {axis % x.dim(): amounts for axis, amounts in self.pads.items()}
        if self.mode == "constant":
            flat: list[int] = []  # torch order: last axis first, (begin, end) each
            for axis in range(x.dim() - 1, -1, -1):
                flat.extend(pads.get(axis, (0, 0)))
            return nn.functional.pad(x, flat, mode="constant", value=self.value)
        for axis, (begin, end) in sorted(pads.items()):
            x = _pad_axis(x, axis, begin, end, self.mode)
        return x


def _pad_attributes(node: Any) -> str:
    mode = node.attributes.get("mode", "constant")
    mode = mode.decode() if isinstance(mode, bytes) else str(mode)
    if mode not in ("constant", "reflect", "edge", "wrap"):
        raise NotImplementedError(f"Pad mode '{mode}'")
    return mode


def convert_pad(node: Any, graph: Any, _original: Converter | None = None) -> Any:
    """Pad-11+: inputs data, pads, constant_value (optional), axes (optional, 18+)."""
    mode = _pad_attributes(node)
    pads = constant_input(node, graph, 1, "pads")
    if pads is None:
        raise NotImplementedError("Pad without a pads input")
    value = constant_input(node, graph, 2, "constant_value")
    axes = constant_input(node, graph, 3, "axes") or list(range(len(pads) // 2))
    if len(pads) != 2 * len(axes):
        raise NotImplementedError(f"Pad with {len(pads)} pads for {len(axes)} axes")
    amounts = {int(a): (int(b), int(e)) for a, b, e in zip(axes, pads[: len(axes)], pads[len(axes) :])}
    constant = float(value[0]) if value else 0.0
    return _result(StaticPad({a: p for a, p in amounts.items() if p != (0, 0)}, mode, constant), node)
