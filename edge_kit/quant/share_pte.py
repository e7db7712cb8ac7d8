"""The int8 share of an ExecuTorch `.pte`: the program's own kernels and its XNNPACK delegates.

The program is deserialized with ExecuTorch's own reader; each XNNPACK delegate payload is
decoded with the delegate's flatbuffer schema (both shipped in the executorch wheel, read
with its `flatc`). Weights are the program's constant tensors (portable kernels: embedding
tables, float convolutions) plus the constants the delegates keep in the file's named data;
each stored blob counts once. Heavy ops: XNNPACK fully connected / convolutions / batch
matmul (int8 when the filter is an 8-bit quantized datatype) and the portable kernels that
multiply or look up (convolution, mm/addmm/bmm, embedding; `embedding_byte` is int8).

Blobs stored twice with identical bytes (a weight tied between a portable embedding and a
delegated linear, which ExecuTorch 1.5 cannot share within one file) are reported.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import tempfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from edge_kit.quant.share import Int8Share

# c10::ScalarType codes (the program's tensors)
SCALAR_TYPES = {0: "uint8", 1: "int8", 2: "int16", 3: "int32", 4: "int64", 5: "float16", 6: "float32", 15: "bfloat16"}
ITEMSIZE = {"uint8": 1, "int8": 1, "int16": 2, "int32": 4, "int64": 8, "float16": 2, "float32": 4, "bfloat16": 2}
XNN_TYPES = {  # XNNPACK value datatypes -> the dtype they store
    "xnn_datatype_fp32": "float32",
    "xnn_datatype_fp16": "float16",
    "xnn_datatype_bf16": "bfloat16",
    "xnn_datatype_qint8": "int8",
    "xnn_datatype_quint8": "uint8",
    "xnn_datatype_qcint8": "int8",
    "xnn_datatype_qcint4": "int4",
    "xnn_datatype_qbint4": "int4",
    "xnn_datatype_qdint8": "int8",
    "xnn_datatype_qpint8": "int8",
    "xnn_datatype_qint32": "int32",
    "xnn_datatype_qcint32": "int32",
    "xnn_datatype_int32": "int32",
}
QUANTIZED = ("int8", "uint8", "int4")
XNN_HEAVY = {  # node -> (weight field, activation field)
    "XNNFullyConnected": ("filter_id", "input1_id"),
    "XNNConv2d": ("filter_id", "input1_id"),
    "XNNDepthwiseConv2d": ("filter_id", "input1_id"),
    "XNNConvTranspose2d": ("filter_id", "input1_id"),
    "XNNBatchMatrixMultiply": ("input2_id", "input1_id"),
}
PORTABLE_HEAVY = {  # kernel -> (weight arg, activation arg)
    "aten::convolution": (1, 0),
    "aten::mm": (1, 0),
    "aten::bmm": (1, 0),
    "aten::addmm": (2, 1),
    "aten::linear": (1, 0),
    "aten::embedding": (0, 1),
    "quantized_decomposed::embedding_byte": (0, 5),
}


@dataclass
class _Blobs:
    """Stored constant blobs, each counted once: program buffers by index, named data by buffer."""

    counted: set[tuple[str, int]] = field(default_factory=set)
    program: dict[str, tuple[tuple[int, ...], int]] = field(default_factory=dict)  # sha256 -> (shape, bytes)
    delegate_shapes: set[tuple[int, ...]] = field(default_factory=set)  # shapes of the delegates' constants


def _read(path: Path) -> tuple[Int8Share, _Blobs, dict[str, int]]:
    from edge_kit.exporters.quiet import quiet_fds

    with quiet_fds():
        from executorch.exir._serialize._program import deserialize_pte_binary

        pte = deserialize_pte_binary(Path(path).read_bytes())
    share, blobs = Int8Share(), _Blobs()
    named = _named_buffers(pte)
    for plan in pte.program.execution_plan:
        _program_part(pte.program, plan, share, blobs)
        for delegate in plan.delegates:
            if "xnnpack" in delegate.id.lower():
                data = bytes(pte.program.backend_delegate_data[delegate.processed.index].data)
                _xnnpack_part(_xnn_graph(data), named, share, blobs)
    return share, blobs, named


def measure(path: Path) -> Int8Share:
    """The int8 share of the `.pte` at `path` (every method)."""
    share, blobs, named = _read(path)
    twice = sum(size for key, (_, size) in blobs.program.items() if key in named)
    if twice:
        share.notes["stored_twice_bytes"] = twice
    return share


def stored_twice(path: Path, shapes: set[tuple[int, ...]]) -> int:
    """Bytes of the program's constants of one of `shapes` (tied weights) that a delegate stores
    again: byte-identical (float) or in its own encoding (an int8 table and an int8 linear)."""
    _, blobs, named = _read(path)
    return sum(
        size
        for key, (shape, size) in blobs.program.items()
        if shape in shapes and (key in named or shape in blobs.delegate_shapes)
    )


def _named_buffers(pte: Any) -> dict[str, int]:
    """Named-data key -> index of the blob it names."""
    if pte.named_data is None:
        return {}
    return {key: entry.buffer_index for key, entry in pte.named_data.pte_data.items()}


def _numel(sizes: Any) -> int:
    return int(math.prod(int(d) for d in sizes)) if sizes is not None else 0


def _program_part(program: Any, plan: Any, share: Int8Share, blobs: _Blobs) -> None:
    """Constant tensors and heavy kernel calls of the program's own (non-delegated) instructions."""
    users = _kernel_users(plan)
    for index, value in enumerate(plan.values):
        tensor = value.val
        if type(tensor).__name__ != "Tensor" or tensor.data_buffer_idx <= 0:
            continue
        if ("program", tensor.data_buffer_idx) in blobs.counted:
            continue
        blobs.counted.add(("program", tensor.data_buffer_idx))
        dtype = SCALAR_TYPES.get(int(tensor.scalar_type), "other")
        nbytes = _numel(tensor.sizes) * ITEMSIZE.get(dtype, 1)
        storage = bytes(program.constant_buffer[tensor.data_buffer_idx].storage)[:nbytes]
        blobs.program[hashlib.sha256(storage).hexdigest()] = (tuple(int(d) for d in tensor.sizes), nbytes)
        share.weight(f"{users.get(index, 'constant read by no kernel')} {list(tensor.sizes)}", dtype, nbytes)
    for name, args in _kernel_calls(plan):
        at = PORTABLE_HEAVY.get(name)
        if at is None or len(args) <= max(at):
            continue
        weight, act, out = (plan.values[args[i]].val for i in (*at, -1))
        int8 = name.startswith("quantized_decomposed::") or SCALAR_TYPES.get(int(weight.scalar_type)) in QUANTIZED
        share.op(f"{name} (portable) {list(out.sizes)}", _portable_macs(name, weight, act, out), int8)


def _kernel_calls(plan: Any) -> list[tuple[str, list[int]]]:
    calls = []
    for chain in plan.chains:
        for instruction in chain.instructions:
            call = instruction.instr_args
            if type(call).__name__ == "KernelCall":
                calls.append((plan.operators[call.op_index].name, list(call.args)))
    return calls


def _kernel_users(plan: Any) -> dict[int, str]:
    """Value index -> the first kernel that reads it (to name a weight)."""
    users: dict[int, str] = {}
    for name, args in _kernel_calls(plan):
        for arg in args:
            users.setdefault(arg, name)
    return users


def _portable_macs(name: str, weight: Any, act: Any, out: Any) -> int:
    n = _numel(out.sizes)
    if "embedding" in name:
        return n
    if name == "aten::convolution":
        return n * _numel(weight.sizes[1:])
    return n * int(act.sizes[-1]) if act.sizes else 0


def _xnn_graph(payload: bytes) -> dict[str, Any]:
    """The XNNPACK delegate's graph as JSON (decoded with its schema by ExecuTorch's flatc)."""
    from executorch.backends.xnnpack.serialization.xnnpack_graph_serialize import XNNHeader
    from executorch.exir._serialize._flatbuffer import _flatc_decompile

    header = XNNHeader.from_bytes(payload[: XNNHeader.EXPECTED_LENGTH])
    flatbuffer = payload[header.flatbuffer_offset : header.flatbuffer_offset + header.flatbuffer_size]
    schema = resources.files("executorch.backends.xnnpack.serialization").joinpath("schema.fbs")
    with tempfile.TemporaryDirectory(prefix="edgekit-xnn-") as tmp, resources.as_file(schema) as schema_path:
        (Path(tmp) / "graph.bin").write_bytes(flatbuffer)
        _flatc_decompile(tmp, str(schema_path), str(Path(tmp) / "graph.bin"), ["--raw-binary"])
        text = (Path(tmp) / "graph.json").read_text()
    # flatc writes non-finite floats bare (inf, nan): JSON spells them Infinity, NaN
    text = re.sub(r"(?<=[:\[,\s])(-?)inf\b", r"\1Infinity", text)
    return dict(json.loads(re.sub(r"(?<=[:\[,\s])-?nan\b", "NaN", text)))


def _tensor(value: dict[str, Any]) -> dict[str, Any]:
    union = value["xvalue_union"]
    return union.get("tensor_value", union)


def _xnnpack_part(graph: dict[str, Any], named: dict[str, int], share: Int8Share, blobs: _Blobs) -> None:
    """Constants the delegate stores (named data, counted once) and its heavy nodes."""
    values = {_tensor(v)["id_out"]: _tensor(v) for v in graph.get("xvalues", []) if "xvalue_union" in v}
    constants = graph.get("constant_data", [])
    for value in values.values():
        index = value.get("constant_buffer_idx", 0)
        if not index or index >= len(constants):
            continue
        blobs.delegate_shapes.add(tuple(int(d) for d in value.get("dims") or ()))
        entry = constants[index]
        key = ("named", named.get(entry.get("named_key", ""), -index))
        if key in blobs.counted:
            continue
        blobs.counted.add(key)
        dtype = XNN_TYPES.get(value["datatype"], "other")
        share.weight(f"XNNPACK constant {value.get('dims')}", dtype, int(entry.get("size", 0)))
    for node in graph.get("xnodes", []):
        kind = node.get("xnode_union_type", "")
        fields = XNN_HEAVY.get(kind)
        if fields is None:
            continue
        union = node["xnode_union"]
        weight, act, out = values[union[fields[0]]], values[union[fields[1]]], values[union["output_id"]]
        int8 = XNN_TYPES.get(weight["datatype"]) in QUANTIZED and XNN_TYPES.get(act["datatype"]) in QUANTIZED
        share.op(
            f"XNNPACK {kind.removeprefix('XNN')} {out.get('dims')}", _xnn_macs(kind, union, weight, act, out), int8
        )


def _xnn_macs(kind: str, node: dict[str, Any], weight: dict, act: dict, out: dict) -> int:
    n = _numel(out.get("dims"))
    if kind in ("XNNConv2d", "XNNDepthwiseConv2d"):
        return n * int(node["kernel_height"]) * int(node["kernel_width"]) * int(node.get("group_input_channels", 1))
    if kind == "XNNConvTranspose2d":
        return (
            _numel(act.get("dims"))
            * int(node["kernel_height"])
            * int(node["kernel_width"])
            * int(node.get("group_output_channels", 1))
        )
    dims = act.get("dims") or [1]
    return n * int(dims[-1])  # fully connected / batch matmul: K is the input's last dim
