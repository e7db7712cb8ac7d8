"""The int8 share of a TFLite model, read from its flatbuffer (tensor types and op list).

An op computes in int8 when its weight operand is an int8 constant (full-integer and
dynamic-range kernels both take it so); a weight fed through a DEQUANTIZE op is float
compute with compressed storage. Lookups (EMBEDDING_LOOKUP, GATHER of a constant table)
count one per element gathered, int8 when the table is.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from edge_kit.quant.share import INT8_DTYPES, Int8Share

# op -> index of its weight (table) input
HEAVY = {
    "CONV_2D": 1,
    "DEPTHWISE_CONV_2D": 1,
    "CONV_3D": 1,
    "TRANSPOSE_CONV": 1,
    "FULLY_CONNECTED": 1,
    "BATCH_MATMUL": 1,
    "EMBEDDING_LOOKUP": 1,
    "GATHER": 0,
}
_DTYPES = {
    "FLOAT32": "float32",
    "FLOAT16": "float16",
    "BFLOAT16": "bfloat16",
    "FLOAT64": "float64",
    "INT8": "int8",
    "UINT8": "uint8",
    "INT4": "int4",
}


def _enums() -> tuple[dict[int, str], dict[int, str]]:
    from ai_edge_litert import schema_py_generated as schema

    def names(cls: Any) -> dict[int, str]:
        return {v: k for k, v in vars(cls).items() if not k.startswith("_") and isinstance(v, int)}

    return names(schema.BuiltinOperator), names(schema.TensorType)


def _elements(shape: Any) -> int:
    return int(math.prod(abs(int(d)) for d in shape)) if shape is not None else 0


def _nbytes(model: Any, tensor: Any) -> int:
    buffer = model.buffers[tensor.buffer] if tensor.buffer < len(model.buffers) else None
    if buffer is None:
        return 0
    if buffer.data is not None:
        return len(buffer.data)
    return int(getattr(buffer, "size", 0) or 0)  # models over 2 GB keep data after the flatbuffer


def _macs(op: str, out: Any, weight: Any, lhs: Any) -> int:
    """Multiply-accumulates of one heavy op from its output, weight and first input shapes."""
    n = _elements(out)
    if op in ("EMBEDDING_LOOKUP", "GATHER"):
        return n
    if weight is None or len(weight) == 0:
        return 0
    if op == "DEPTHWISE_CONV_2D":
        return n * _elements(weight[1:3])
    if op == "TRANSPOSE_CONV":
        return _elements(lhs) * _elements(weight[:3])
    if op == "BATCH_MATMUL":
        return n * abs(int(lhs[-1])) if lhs is not None and len(lhs) else 0
    return n * _elements(weight[1:])  # conv O x H x W x I, fully connected out x in


def measure(path: Path) -> Int8Share:
    """The int8 share of the TFLite model at `path` (every subgraph)."""
    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(Path(path).read_bytes()))
    op_names, type_names = _enums()
    share = Int8Share()
    for subgraph in model.subgraphs:
        _subgraph(model, subgraph, share, op_names, type_names)
    return share


def _subgraph(model: Any, subgraph: Any, share: Int8Share, op_names: dict, type_names: dict) -> None:
    tensors = subgraph.tensors
    codes = [op_names.get(max(c.builtinCode, c.deprecatedBuiltinCode), "CUSTOM") for c in model.operatorCodes]
    produced_by = {o: codes[op.opcodeIndex] for op in subgraph.operators for o in (op.outputs or [])}
    consumer: dict[int, str] = {}
    for op in subgraph.operators:
        name = codes[op.opcodeIndex]
        inputs = [i for i in (op.inputs if op.inputs is not None else []) if i >= 0]
        for i in inputs:
            consumer.setdefault(i, name)
        outputs = list(op.outputs if op.outputs is not None else [])
        _heavy_op(name, inputs, outputs, (tensors, produced_by, type_names), share)
    for index, tensor in enumerate(tensors):
        nbytes = _nbytes(model, tensor)
        if nbytes and index not in produced_by:
            label = f"{consumer.get(index, 'tensor')} {_name(tensor)} {list(tensor.shape)}"
            share.weight(label, _DTYPES.get(type_names.get(tensor.type, ""), "other"), nbytes)


def _name(tensor: Any) -> str:
    name = tensor.name
    return name.decode() if isinstance(name, bytes) else str(name)


def _is_int8(tensor: Any, type_names: dict[int, str]) -> bool:
    return _DTYPES.get(type_names.get(tensor.type, ""), "") in INT8_DTYPES


def _heavy_op(
    name: str, inputs: list[int], outputs: list[int], graph: tuple[list, dict, dict], share: Int8Share
) -> None:
    """Count one op if it is a heavy one (`graph`: tensors, producer op names, type names)."""
    tensors, produced_by, type_names = graph
    at = HEAVY.get(name)
    if at is None or len(inputs) <= at or not outputs:
        return
    weight_index = inputs[at]
    if name == "GATHER" and weight_index in produced_by and produced_by[weight_index] != "DEQUANTIZE":
        return  # a gather of activations (a reshape in disguise), not a table lookup
    weight = tensors[weight_index]
    int8 = _is_int8(weight, type_names) and produced_by.get(weight_index) != "DEQUANTIZE"
    if name == "BATCH_MATMUL":  # both operands are activations or one is a constant (hybrid)
        int8 = int8 and _is_int8(tensors[inputs[0]], type_names)
    lhs = tensors[inputs[2] if name == "TRANSPOSE_CONV" else inputs[0]].shape
    macs = _macs(name, tensors[outputs[0]].shape, weight.shape, lhs)
    share.op(f"{name} {_name(tensors[outputs[0]])} {list(tensors[outputs[0]].shape)}", macs, int8)
