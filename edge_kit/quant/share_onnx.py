"""The int8 share of an ONNX model: initializer dtypes and which heavy nodes run in int8.

Integer operators (QLinearConv, QLinearMatMul, ConvInteger, MatMulInteger and ONNX Runtime's
QGemm / DynamicQuantizeMatMul / MatMulIntegerToFloat) are int8 by definition. A QDQ Conv /
MatMul / Gemm is int8 when every operand it multiplies comes out of a DequantizeLinear (ONNX
Runtime then fuses the pattern into an integer kernel); with only the weight dequantized it
is float compute over compressed weights. A Gather of a constant table counts one per
element gathered, int8 when the table is stored as int8.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from edge_kit.quant.share import Int8Share

INTEGER_OPS = {  # op -> (index of the weight input, index of the activation input)
    "QLinearConv": (3, 0),
    "ConvInteger": (1, 0),
    "QLinearMatMul": (3, 0),
    "MatMulInteger": (1, 0),
    "MatMulIntegerToFloat": (1, 0),
    "DynamicQuantizeMatMul": (1, 0),
    "QGemm": (3, 0),
}
FLOAT_OPS = {"Conv": (1, 0), "ConvTranspose": (1, 0), "MatMul": (1, 0), "Gemm": (1, 0)}


def _shapes(model: Any) -> dict[str, tuple[list[int], int]]:
    """name -> (shape, ONNX elem type) for every tensor shape inference could name."""
    from onnx import shape_inference

    try:
        graph = shape_inference.infer_shapes(model).graph
    except Exception:  # noqa: BLE001 - contrib ops it cannot infer: the declared shapes suffice
        graph = model.graph
    info: dict[str, tuple[list[int], int]] = {}
    for vi in [*graph.input, *graph.value_info, *graph.output]:
        t = vi.type.tensor_type
        info[vi.name] = ([d.dim_value or 1 for d in t.shape.dim], t.elem_type)
    for init in graph.initializer:
        info[init.name] = (list(init.dims), init.data_type)
    return info


def _elements(shape: list[int]) -> int:
    return int(math.prod(max(int(d), 1) for d in shape))


def _dtype(elem_type: int) -> str:
    from onnx import helper

    try:
        return str(helper.tensor_dtype_to_np_dtype(elem_type).name)
    except (KeyError, TypeError, ValueError):
        return "other"


def _macs(node: Any, info: dict, weight: str, act: str) -> int:
    out = info.get(node.output[0], ([0], 0))[0]
    w_shape = info.get(weight, ([], 0))[0]
    if not w_shape:
        return 0
    if "Conv" in node.op_type:
        if node.op_type == "ConvTranspose":
            return _elements(info.get(act, ([0], 0))[0]) * _elements(w_shape[1:])
        return _elements(out) * _elements(w_shape[1:])  # W: M x C/group x kH x kW
    a_shape = info.get(act, ([], 0))[0]
    trans_a = any(a.name == "transA" and a.i for a in node.attribute)
    k = a_shape[0 if trans_a and len(a_shape) == 2 else -1] if a_shape else w_shape[0]
    return _elements(out) * max(int(k), 1)


def measure(path: Path) -> Int8Share:
    """The int8 share of the ONNX model at `path`."""
    import onnx

    model = onnx.load(str(path))
    info = _shapes(model)
    graph = model.graph
    producer = {out: node for node in graph.node for out in node.output}
    consts = {init.name for init in graph.initializer}
    share = Int8Share()
    users: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            users.setdefault(name, []).append(node)
        _heavy(node, info, producer, consts, share)
    for init in graph.initializer:
        shape, dtype = list(init.dims), _dtype(init.data_type)
        nbytes = len(init.raw_data) if init.HasField("raw_data") else _elements(shape) * _itemsize(dtype)
        share.weight(f"{_reader(init.name, users)} {init.name} {shape}", dtype, nbytes)
    return share


def _itemsize(dtype: str) -> int:
    import numpy as np

    try:
        return int(np.dtype(dtype).itemsize)
    except TypeError:
        return 1


def _reader(name: str, users: dict[str, list[Any]]) -> str:
    """The op that consumes an initializer, looking through its DequantizeLinear."""
    first = users.get(name, [])
    if first and first[0].op_type == "DequantizeLinear":
        first = users.get(first[0].output[0]) or first
    return first[0].op_type if first else "unused"


def _dequantized(name: str, producer: dict) -> bool:
    node = producer.get(name)
    return node is not None and node.op_type == "DequantizeLinear"


def _heavy(node: Any, info: dict, producer: dict, consts: set, share: Int8Share) -> None:
    """Count one Conv / MatMul / Gemm (float, QDQ or integer) or constant Gather."""
    inputs = list(node.input)
    label = f"{node.op_type} {node.name or node.output[0]}"
    if node.op_type in INTEGER_OPS or node.op_type in FLOAT_OPS:
        w_at, a_at = INTEGER_OPS.get(node.op_type) or FLOAT_OPS[node.op_type]
        if len(inputs) <= w_at:
            return
        weight, act = inputs[w_at], inputs[a_at]
        int8 = node.op_type in INTEGER_OPS or (_dequantized(weight, producer) and _dequantized(act, producer))
        share.op(label, _macs(node, info, _source(weight, producer), act), int8)
    elif node.op_type == "Gather" and inputs:
        table = _source(inputs[0], producer)
        if table in consts and len(info.get(table, ([], 0))[0]) >= 2:
            int8 = _dtype(info[table][1]) in ("int8", "uint8")
            share.op(label, _elements(info.get(node.output[0], ([0], 0))[0]), int8)


def _source(name: str, producer: dict) -> str:
    """The initializer behind a DequantizeLinear output (or the name itself)."""
    node = producer.get(name)
    return node.input[0] if node is not None and node.op_type == "DequantizeLinear" else name
