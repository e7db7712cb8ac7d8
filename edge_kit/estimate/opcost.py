"""What each operator of an artifact computes and moves, read statically from the file.

Per operator: multiply-accumulates, constant (weight) bytes, activation bytes read and
written. The memory term of the estimate and the per-operator breakdown come from here.
TFLite is read with LiteRT's interpreter (no delegate, nothing run), ONNX with onnx's shape
inference; ExecuTorch `.pte` files are not analysed (only their size is known).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

# XNNPACK folds a constant PAD into the convolution that reads it: no traffic of its own.
_FUSED_PAD = ("PAD", "PADV2")
_PAD_CONSUMERS = ("CONV_2D", "DEPTHWISE_CONV_2D")


@dataclass(frozen=True)
class OpCost:
    """One operator: its type, work and bytes (activations counted once per read or write)."""

    index: int
    op: str
    macs: int
    weight_bytes: int
    in_bytes: int
    out_bytes: int
    out_elements: int
    fused: bool = False

    @property
    def work(self) -> float:
        """Static work proxy for apportioning counted instructions: MACs plus output elements."""
        return 0.0 if self.fused else float(self.macs + self.out_elements)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OpCost:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


@dataclass(frozen=True)
class ModelCost:
    """Every operator of one artifact, plus how they were obtained."""

    ops: tuple[OpCost, ...]
    source: str  # "tflite-static", "onnx-static" or "size-only"
    file_bytes: int

    @property
    def weight_bytes(self) -> int:
        return sum(o.weight_bytes for o in self.ops) if self.ops else self.file_bytes

    @property
    def macs(self) -> int:
        return sum(o.macs for o in self.ops)

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "file_bytes": self.file_bytes, "ops": [o.to_dict() for o in self.ops]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelCost:
        return cls(tuple(OpCost.from_dict(o) for o in data["ops"]), data["source"], int(data["file_bytes"]))


def _elements(shape: Any) -> int:
    return int(math.prod(max(int(d), 1) for d in shape))


def analyse(path: Path, fmt: str | None = None) -> ModelCost:
    """Static cost of `path` from its format's op-cost reader (the format named, else the one
    its content shows), else its size only; never raises on a file it cannot read: the result
    then says 'size-only'."""
    from edge_kit.registry import format_of_file, get_format

    path = Path(path)
    try:
        found = get_format(fmt) if fmt else format_of_file(path)
        cost = found.op_cost(path) if found is not None else None
        if cost is not None:
            return cost
    except Exception:  # noqa: BLE001, S110 - a private API or odd file: fall back, the estimate says so
        pass
    return ModelCost((), "size-only", path.stat().st_size)


def _tflite_macs(op: str, out_shape: Any, filt: Any) -> int:
    if filt is None:
        return 0
    out = _elements(out_shape)
    if op == "CONV_2D":
        return out * _elements(filt[1:])  # filter O x H x W x I
    if op == "DEPTHWISE_CONV_2D":
        return out * int(filt[1]) * int(filt[2])  # filter 1 x H x W x C
    if op == "FULLY_CONNECTED":
        return out * int(filt[-1])  # weights out x in
    return 0


def tflite_ops(path: Path) -> list[OpCost]:
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interp = Interpreter(
        model_path=str(path), experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    )
    tensors = {d["index"]: d for d in interp.get_tensor_details()}
    ops = interp._get_ops_details()  # the execution plan (private, stable since TF 2.4)
    produced = {o for op in ops for o in op["outputs"]}
    graph_in = {d["index"] for d in interp.get_input_details()}

    def nbytes(i: int) -> int:
        return _elements(tensors[i]["shape"]) * np.dtype(tensors[i]["dtype"]).itemsize

    consumers = {i: op["op_name"] for op in ops for i in op["inputs"]}
    out = []
    for op in ops:
        inputs = [i for i in op["inputs"] if i >= 0]
        const = [i for i in inputs if i not in produced and i not in graph_in]
        acts = [i for i in inputs if i not in const]
        filt = tensors[const[0]]["shape"] if const else None
        outs = list(op["outputs"])
        fused = op["op_name"] in _FUSED_PAD and any(consumers.get(o) in _PAD_CONSUMERS for o in outs)
        out.append(
            OpCost(
                index=int(op["index"]),
                op=op["op_name"],
                macs=_tflite_macs(op["op_name"], tensors[outs[0]]["shape"], filt),
                weight_bytes=sum(nbytes(i) for i in const),
                in_bytes=sum(nbytes(i) for i in acts),
                out_bytes=sum(nbytes(o) for o in outs),
                out_elements=sum(_elements(tensors[o]["shape"]) for o in outs),
                fused=fused,
            )
        )
    return out


_ONNX_WEIGHT_INPUT = {
    "Conv": 1,
    "ConvInteger": 1,
    "QLinearConv": 3,
    "Gemm": 1,
    "MatMul": 1,
    "MatMulInteger": 1,
    "QLinearMatMul": 3,
}


def _onnx_reduction(node: Any, w_shape: list[int]) -> int:
    """Multiply-accumulates per output element of a Conv / Gemm / MatMul node."""
    if node.op_type.endswith(("Conv", "ConvInteger")):
        return _elements(w_shape[1:])  # W: M x C/group x kH x kW
    if node.op_type == "Gemm":
        trans_b = any(a.name == "transB" and a.i for a in node.attribute)
        return int(w_shape[1] if trans_b else w_shape[0])
    return int(w_shape[-2] if len(w_shape) >= 2 else w_shape[0])  # MatMul: B is K x N


def onnx_ops(path: Path) -> list[OpCost]:
    import onnx
    from onnx import helper, shape_inference

    model = shape_inference.infer_shapes(onnx.load(str(path), load_external_data=False))
    graph = model.graph
    info: dict[str, tuple[list[int], int]] = {}
    for vi in [*graph.input, *graph.value_info, *graph.output]:
        t = vi.type.tensor_type
        info[vi.name] = ([d.dim_value or 1 for d in t.shape.dim], t.elem_type)
    for init in graph.initializer:
        info[init.name] = (list(init.dims), init.data_type)
    consts = {i.name for i in graph.initializer}

    def nbytes(name: str) -> int:
        if name not in info or not info[name][1]:
            return 0
        shape, dtype = info[name]
        return _elements(shape) * helper.tensor_dtype_to_np_dtype(dtype).itemsize

    out = []
    for index, node in enumerate(graph.node):
        ins = [n for n in node.input if n]
        outs = [n for n in node.output if n]
        out_shape = info.get(outs[0], ([0], 0))[0] if outs else [0]
        w_at = _ONNX_WEIGHT_INPUT.get(node.op_type)
        w_shape = info[ins[w_at]][0] if w_at is not None and len(ins) > w_at and ins[w_at] in info else None
        macs = _elements(out_shape) * _onnx_reduction(node, w_shape) if w_shape else 0
        out.append(
            OpCost(
                index=index,
                op=node.op_type,
                macs=macs,
                weight_bytes=sum(nbytes(n) for n in ins if n in consts),
                in_bytes=sum(nbytes(n) for n in ins if n not in consts),
                out_bytes=sum(nbytes(n) for n in outs),
                out_elements=sum(_elements(info.get(n, ([0], 0))[0]) for n in outs),
            )
        )
    return out
