"""An onnx2torch converter for LSTM (onnx2torch 1.5 has none), unrolled over the fixed sequence
length so `torch.export` traces plain matmuls and activations every backend lowers.

The weights (W, R, B) must be constants; the initial states may be computed (silero-vad slices
them from its `state` input). Peepholes, `clip`, `input_forget`, `layout=1`, non-default
activations and a computed `sequence_lens` or one shorter than the sequence are refused with a one-line
NotImplementedError, which the bridge turns into an error naming the node.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from edge_kit.bridges.reduce_pad_ops import constant_input

Converter = Callable[[Any, Any], Any]

LSTM_VERSIONS = (7, 14, 22)
DIRECTIONS = {"forward": (False,), "reverse": (True,), "bidirectional": (False, True)}
DEFAULT_ACTIVATIONS = ("Sigmoid", "Tanh", "Tanh")


class UnrolledLSTM(nn.Module):
    """ONNX LSTM (gate order i, o, f, c) over a sequence of fixed length, layout [seq, batch, input].
    Returns (Y [seq, directions, batch, hidden], Y_h, Y_c [directions, batch, hidden])."""

    w: torch.Tensor
    r: torch.Tensor
    b: torch.Tensor

    def __init__(
        self, w: torch.Tensor, r: torch.Tensor, b: torch.Tensor, reverse: tuple[bool, ...], lengths: list[int]
    ) -> None:
        super().__init__()
        self.lengths = lengths  # a constant sequence_lens: must be the whole (fixed) sequence
        self.register_buffer("w", w)  # [directions, 4 * hidden, input]
        self.register_buffer("r", r)  # [directions, 4 * hidden, hidden]
        self.register_buffer("b", b)  # [directions, 4 * hidden]: input and recurrence biases summed
        self.reverse, self.hidden = reverse, r.shape[-1]

    def _direction(
        self, x: torch.Tensor, d: int, h: torch.Tensor, c: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        projected = torch.matmul(x, self.w[d].t()) + self.b[d]  # every step's input part at once
        steps = range(x.shape[0] - 1, -1, -1) if self.reverse[d] else range(x.shape[0])
        out: list[torch.Tensor] = [h] * x.shape[0]
        for t in steps:
            i, o, f, g = torch.chunk(projected[t] + torch.matmul(h, self.r[d].t()), 4, dim=-1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            out[t] = h
        return torch.stack(out), h, c

    def forward(
        self, x: torch.Tensor, h0: torch.Tensor | None = None, c0: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if any(n != x.shape[0] for n in self.lengths):
            raise NotImplementedError(
                f"LSTM with sequence_lens {self.lengths} shorter than the sequence ({x.shape[0]})"
            )
        zeros = x.new_zeros(len(self.reverse), x.shape[1], self.hidden)
        h0 = zeros if h0 is None else h0
        c0 = zeros if c0 is None else c0
        ys, hs, cs = zip(*(self._direction(x, d, h0[d], c0[d]) for d in range(len(self.reverse))))
        return torch.stack(ys, dim=1), torch.stack(hs), torch.stack(cs)


class _States(nn.Module):
    """Binds which of (initial_h, initial_c) the node passes, so onnx2torch's positional args fit."""

    def __init__(self, lstm: UnrolledLSTM, has_h: bool, has_c: bool) -> None:
        super().__init__()
        self.lstm, self.has_h, self.has_c = lstm, has_h, has_c

    def forward(self, x: torch.Tensor, *states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        given = iter(states)
        h0 = next(given) if self.has_h else None
        c0 = next(given) if self.has_c else None
        return self.lstm(x, h0, c0)


def _refuse_unsupported(node: Any, graph: Any) -> None:
    attrs = node.attributes
    activations = tuple(a.decode() if isinstance(a, bytes) else str(a) for a in attrs.get("activations", ()))
    checks = {
        "layout=1 (batch first)": int(attrs.get("layout", 0)) != 0,
        "clip": attrs.get("clip") is not None,
        "input_forget": int(attrs.get("input_forget", 0)) != 0,
        f"activations {list(activations)}": bool(activations) and activations[:3] != DEFAULT_ACTIVATIONS,
    }
    peepholes = constant_input(node, graph, 7, "peepholes")
    checks["peepholes"] = peepholes is not None and any(float(p) != 0.0 for p in peepholes)
    for what, refused in checks.items():
        if refused:
            raise NotImplementedError(f"LSTM with {what}")


def convert_lstm(node: Any, graph: Any, _original: Converter | None = None) -> Any:
    """LSTM-7/14/22: inputs X, W, R, B?, sequence_lens?, initial_h?, initial_c?, P?."""
    from onnx2torch.utils.common import OnnxMapping, OperationConverterResult, get_const_value

    _refuse_unsupported(node, graph)
    names = list(node.input_values) + [""] * (8 - len(node.input_values))
    direction = node.attributes.get("direction", "forward")
    reverse = DIRECTIONS[direction.decode() if isinstance(direction, bytes) else str(direction)]
    try:
        w, r = (torch.as_tensor(get_const_value(names[i], graph), dtype=torch.float32) for i in (1, 2))
    except KeyError:
        raise NotImplementedError("LSTM with computed weights: only constant W and R convert") from None
    hidden = r.shape[-1]
    bias = constant_input(node, graph, 3, "B")
    b = torch.zeros(len(reverse), 8 * hidden) if bias is None else torch.tensor(bias, dtype=torch.float32)
    b = b.reshape(len(reverse), 8 * hidden)
    lengths = constant_input(node, graph, 4, "sequence_lens")  # computed: refused by constant_input
    lstm = UnrolledLSTM(w, r, b[:, : 4 * hidden] + b[:, 4 * hidden :], reverse, [int(n) for n in lengths or []])
    states = [n for n in (names[5], names[6]) if n]
    module = _States(lstm, bool(names[5]), bool(names[6]))
    return OperationConverterResult(
        torch_module=module, onnx_mapping=OnnxMapping(inputs=(names[0], *states), outputs=node.output_values)
    )
