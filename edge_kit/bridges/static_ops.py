"""onnx2torch converters whose shape-like inputs are read at conversion time.

Registered by `onnx2torch_compat` in place of onnx2torch's own Reshape and Resize converters.
Each converter `(node, graph, original)` builds a module holding Python constants when the
shape/scales/sizes input is an initializer (as it is after clean-up at fixed input shapes), so
`torch.export` sees no data-dependent guard; a computed input goes to onnx2torch's `original`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

Converter = Callable[[Any, Any], Any]


def _const(graph: Any, node: Any, index: int) -> list[Any] | None:
    """The value of the node's `index`-th input as a list when it is an initializer; None otherwise."""
    names = node.input_values
    if index >= len(names) or not names[index] or names[index] not in graph.initializers:
        return None
    return graph.initializers[names[index]].to_torch().tolist()


def _original(node: Any, graph: Any, original: Converter | None, missing: str) -> Any:
    """onnx2torch's own converter for what the static one cannot take; `missing` when it has none."""
    if original is None:
        raise NotImplementedError(missing)
    return original(node, graph)


def _result(module: nn.Module, node: Any, inputs: Sequence[str]) -> Any:
    from onnx2torch.utils.common import OnnxMapping, OperationConverterResult

    return OperationConverterResult(
        torch_module=module, onnx_mapping=OnnxMapping(inputs=tuple(inputs), outputs=node.output_values)
    )


class StaticReshape(nn.Module):
    """ONNX Reshape with a constant target shape (0 copies the input's dimension unless allowzero)."""

    def __init__(self, shape: Sequence[int], allowzero: bool) -> None:
        super().__init__()
        self.shape, self.allowzero = [int(d) for d in shape], allowzero

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.allowzero:
            return torch.reshape(x, self.shape)
        return torch.reshape(x, [x.shape[i] if d == 0 else d for i, d in enumerate(self.shape)])


def convert_reshape(node: Any, graph: Any, original: Converter | None) -> Any:
    shape = _const(graph, node, 1)
    if shape is None:
        return _original(node, graph, original, "Reshape with a computed shape at this opset")
    return _result(StaticReshape(shape, bool(node.attributes.get("allowzero", 0))), node, node.input_values[:1])


_LINEAR = {1: "linear", 2: "bilinear", 3: "trilinear"}


def _torch_mode(attrs: Any, spatial: int) -> tuple[str, bool | None]:
    """torch's interpolate mode and align_corners for an ONNX Resize's attributes; raises when none matches."""
    mode = attrs.get("mode", "nearest")
    transform = attrs.get("coordinate_transformation_mode", "half_pixel")
    if mode == "nearest":
        rounding = attrs.get("nearest_mode", "round_prefer_floor")
        if transform in ("half_pixel", "pytorch_half_pixel") and rounding == "round_prefer_ceil":
            return "nearest-exact", None  # floor(src + 0.5) on half-pixel centres
        if (transform, rounding) in (("asymmetric", "floor"), ("half_pixel", "round_prefer_floor")):
            return "nearest", None  # the second equals it at integer scales, differs only at rounding ties
        raise NotImplementedError(f"Resize nearest with {transform}/{rounding} has no torch equivalent")
    if mode == "linear" and spatial in _LINEAR and transform in ("half_pixel", "pytorch_half_pixel", "align_corners"):
        return _LINEAR[spatial], transform == "align_corners"
    if mode == "cubic" and spatial == 2 and transform in ("half_pixel", "align_corners"):
        if attrs.get("cubic_coeff_a", -0.75) != -0.75:
            raise NotImplementedError("Resize cubic with cubic_coeff_a other than -0.75")
        return "bicubic", transform == "align_corners"
    raise NotImplementedError(f"Resize {mode} with {transform} over {spatial} spatial dims has no torch equivalent")


class StaticResize(nn.Module):
    """ONNX Resize with constant scales or sizes over the spatial dimensions (batch/channels kept)."""

    def __init__(self, mode: str, align_corners: bool | None, scales: list[float] | None, sizes: list[int] | None):
        super().__init__()
        self.mode, self.align_corners, self.scales, self.sizes = mode, align_corners, scales, sizes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.interpolate(
            x, size=self.sizes, scale_factor=self.scales, mode=self.mode, align_corners=self.align_corners
        )


def convert_resize(node: Any, graph: Any, original: Converter | None) -> Any:
    """Resize-11+: inputs X, roi, scales, sizes (roi only matters for tf_crop_and_resize)."""
    scales, sizes = _const(graph, node, 2), _const(graph, node, 3)
    computed = any(name and name not in graph.initializers for name in node.input_values[2:4])
    if computed or (not scales and not sizes):
        return _original(node, graph, original, "Resize with computed scales/sizes at this opset")
    if node.attributes.get("coordinate_transformation_mode") == "tf_crop_and_resize":
        raise NotImplementedError("Resize with tf_crop_and_resize")
    if node.attributes.get("antialias", 0) or node.attributes.get("axes") or node.attributes.get("exclude_outside", 0):
        raise NotImplementedError("Resize with antialias, axes or exclude_outside")
    outer = scales[:2] if scales else None
    if outer is not None and outer != [1.0, 1.0]:
        raise NotImplementedError("Resize that scales the batch or channel dimension")
    rank = len(scales or sizes or [])
    mode, align = _torch_mode(node.attributes, rank - 2)
    module = StaticResize(
        mode, align, [float(s) for s in scales[2:]] if scales else None, [int(s) for s in sizes[2:]] if sizes else None
    )
    return _result(module, node, node.input_values[:1])


class StaticSlice(nn.Module):
    """ONNX Slice with constant starts/ends/axes/steps (a negative step flips, then slices forwards)."""

    def __init__(self, starts: list[int], ends: list[int], axes: list[int], steps: list[int]) -> None:
        super().__init__()
        self.parts = list(zip(starts, ends, axes, steps))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for start, end, axis, step in self.parts:
            axis = axis % x.dim()
            if step < 0:
                x, start, end, step = torch.flip(x, dims=[axis]), -start - 1, -end - 1, -step
            x = x[(slice(None),) * axis + (slice(start, end, step),)]
        return x


def convert_slice(node: Any, graph: Any, original: Converter | None) -> Any:
    """Slice-10+: inputs data, starts, ends, axes (optional), steps (optional)."""
    starts, ends, axes, steps = (_const(graph, node, i) for i in range(1, 5))
    present = [i for i in range(3, 5) if i < len(node.input_values) and node.input_values[i]]
    computed = any((axes, steps)[i - 3] is None for i in present)
    if starts is None or ends is None or computed:
        return _original(node, graph, original, "Slice with computed starts/ends at this opset")
    axes = axes if axes is not None else list(range(len(starts)))
    steps = steps if steps is not None else [1] * len(starts)
    return _result(StaticSlice(starts, ends, axes, steps), node, node.input_values[:1])


_BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "Add": lambda a, b: a + b,
    "Sub": lambda a, b: a - b,
    "Mul": lambda a, b: a * b,
    "Div": lambda a, b: a / b,
    "Pow": torch.pow,
}


class ScalarBinary(nn.Module):
    """An elementwise Add/Sub/Mul/Div/Pow with one operand a Python scalar, as native torch code has it
    (`x + 3.0`). onnx2torch passes such constants as 0-d buffers; quantizers and litert-torch's layout
    pass treat those as tensors (a buffer operand broke litert-torch's NHWC rewrite of int8 PP-OCR)."""

    def __init__(self, op_type: str, value: float | int, scalar_first: bool) -> None:
        super().__init__()
        self.op_type, self.value, self.scalar_first = op_type, value, scalar_first

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        op = _BINARY[self.op_type]
        return op(self.value, x) if self.scalar_first else op(x, self.value)


def _rank(graph: Any, name: str) -> int | None:
    shape = _shape(graph, name)
    return None if shape is None else len(shape)


def _scalar_operand(node: Any, graph: Any) -> tuple[int, float | int] | None:
    """(index, value) of the operand that is a one-element initializer of rank ≤ the other's, if exactly one is."""
    names = node.input_values
    found = []
    for index, name in enumerate(names[:2]):
        if name not in graph.initializers:
            continue
        tensor = graph.initializers[name].to_torch()
        other = _rank(graph, names[1 - index])
        float_ok = tensor.is_floating_point() or (node.operation_type == "Pow" and index == 1)
        if tensor.numel() == 1 and float_ok and other is not None and tensor.dim() <= other:
            found.append((index, tensor.item()))
    return found[0] if len(found) == 1 else None


def convert_binary(node: Any, graph: Any, original: Converter | None) -> Any:
    """Add/Sub/Mul/Div/Pow (opset 7+, numpy broadcasting) with a scalar constant operand."""
    scalar = _scalar_operand(node, graph)
    if scalar is None or len(node.input_values) != 2:
        return _original(node, graph, original, f"{node.operation_type} at this opset")
    index, value = scalar
    return _result(ScalarBinary(node.operation_type, value, index == 0), node, [node.input_values[1 - index]])


class StaticSplit(nn.Module):
    """ONNX Split with constant sizes (a list) or a piece length (int, the last piece may be shorter)."""

    def __init__(self, sizes: list[int] | int, axis: int) -> None:
        super().__init__()
        self.sizes, self.axis = sizes, axis

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(torch.split(x, self.sizes, dim=self.axis))


def convert_split(node: Any, graph: Any, original: Converter | None) -> Any:
    """Split-13/18: sizes from the `split` initializer, else equal pieces (18: `num_outputs`, ceil-sized)."""
    axis = int(node.attributes.get("axis", 0))
    sizes = _const(graph, node, 1)
    has_input = len(node.input_values) > 1 and bool(node.input_values[1])
    if has_input and sizes is None:
        return _original(node, graph, original, "Split with computed sizes at this opset")
    if sizes is None:
        pieces = int(node.attributes.get("num_outputs", len(node.output_values)))
        shape = _shape(graph, node.input_values[0])
        length = None if shape is None else shape[axis]
        if length is None:
            return _original(node, graph, original, "Split into equal pieces of an axis whose length is unknown")
        return _result(StaticSplit(-(-length // pieces), axis), node, node.input_values[:1])  # ceil: last is shorter
    return _result(StaticSplit(sizes, axis), node, node.input_values[:1])


class StaticSqueeze(nn.Module):
    """ONNX Squeeze (axes None: every axis of length 1) or Unsqueeze with constant axes."""

    def __init__(self, axes: list[int] | None, unsqueeze: bool) -> None:
        super().__init__()
        self.axes, self.unsqueeze = axes, unsqueeze

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.unsqueeze:
            rank = x.dim() + len(self.axes or [])
            for axis in sorted(a % rank for a in self.axes or []):
                x = torch.unsqueeze(x, axis)
            return x
        if self.axes is None:
            return torch.squeeze(x)
        return torch.squeeze(x, dim=tuple(sorted({a % x.dim() for a in self.axes})))


def convert_squeeze(node: Any, graph: Any, original: Converter | None) -> Any:
    """Squeeze/Unsqueeze-13+: axes from the `axes` initializer (Squeeze without one: all unit axes)."""
    axes = _const(graph, node, 1)
    has_input = len(node.input_values) > 1 and bool(node.input_values[1])
    if has_input and axes is None:
        return _original(node, graph, original, f"{node.operation_type} with computed axes at this opset")
    unsqueeze = node.operation_type == "Unsqueeze"
    if unsqueeze and axes is None:
        raise NotImplementedError("Unsqueeze without axes")
    flat = None if axes is None else [int(a) for a in torch.as_tensor(axes).reshape(-1).tolist()]
    return _result(StaticSqueeze(flat, unsqueeze), node, node.input_values[:1])


class StaticGather(nn.Module):
    """ONNX Gather (numpy.take) with constant indices: a scalar index selects (the axis goes), an
    array of them index-selects and takes their shape in place of the axis."""

    indices: torch.Tensor

    def __init__(self, indices: Any, axis: int) -> None:
        super().__init__()
        self.axis, self.scalar = axis, isinstance(indices, int)
        self.shape = [] if self.scalar else list(torch.as_tensor(indices).shape)
        self.register_buffer("indices", torch.as_tensor(indices, dtype=torch.int64).reshape(-1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        axis = self.axis % x.dim()
        index = torch.where(self.indices < 0, self.indices + x.shape[axis], self.indices)
        picked = torch.index_select(x, axis, index)
        return picked.reshape([*x.shape[:axis], *self.shape, *x.shape[axis + 1 :]])


def convert_gather(node: Any, graph: Any, original: Converter | None) -> Any:
    """Gather-1/11/13 whose indices are an initializer (a computed index goes to onnx2torch's own)."""
    indices = _const(graph, node, 1)
    if indices is None:
        return _original(node, graph, original, "Gather at this opset")
    return _result(StaticGather(indices, int(node.attributes.get("axis", 0))), node, node.input_values[:1])


class DepthToSpace(nn.Module):
    """ONNX DepthToSpace in both modes: DCR (TensorFlow's depth_to_space; onnx2torch has only CRD)
    and CRD (torch's pixel_shuffle)."""

    def __init__(self, block: int, mode: str) -> None:
        super().__init__()
        self.block, self.mode = block, mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        n, depth = self.block, c // (self.block * self.block)
        if self.mode == "CRD":
            return torch.nn.functional.pixel_shuffle(x, n)
        y = torch.reshape(x, [b, n, n, depth, h, w]).permute(0, 3, 4, 1, 5, 2)
        return torch.reshape(y, [b, depth, h * n, w * n])


def convert_depth_to_space(node: Any, graph: Any, original: Converter | None) -> Any:
    mode = node.attributes.get("mode", "DCR")
    mode = mode.decode() if isinstance(mode, bytes) else str(mode)
    if mode not in ("DCR", "CRD"):
        raise NotImplementedError(f"DepthToSpace mode '{mode}'")
    return _result(DepthToSpace(int(node.attributes["blocksize"]), mode), node, node.input_values[:1])


def _shape(graph: Any, name: str) -> list[int | None] | None:
    info = graph.value_info.get(name)
    if info is None or not info.type.tensor_type.HasField("shape"):
        return None
    return [d.dim_value if d.HasField("dim_value") else None for d in info.type.tensor_type.shape.dim]


class TakesEveryInput(nn.Module):
    """The converted module behind the source's whole signature: inputs bound as constants are
    accepted and ignored, the rest passed on in the graph's order."""

    def __init__(self, inner: Any, order: list[int]) -> None:
        super().__init__()
        self.inner, self.order = inner, order

    def forward(self, *args: Any) -> Any:
        return self.inner(*[args[i] for i in self.order])
