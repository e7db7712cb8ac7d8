"""A copy of a TFLite model whose sparse constant weights are stored dense, for tf2onnx.

TFLite models may keep weights sparse (MediaPipe's pose detector: fp16 kernels in a block-sparse
format) behind a DENSIFY op that expands them when the interpreter prepares. tf2onnx reads the
sparse buffer as if it were dense ("cannot reshape array of size 96 into shape (16,1,1,24)") and
has no DENSIFY converter. LiteRT itself expands them: its dense results become the constants and
the DENSIFY ops go, so the copy computes exactly what the original does.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

DENSIFY = 124  # BuiltinOperator.DENSIFY


def _densify_ops(model: Any) -> list[tuple[int, Any]]:
    """(subgraph index, operator) of every DENSIFY op."""
    codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in model.operatorCodes]
    return [
        (g, op) for g, graph in enumerate(model.subgraphs) for op in graph.operators if codes[op.opcodeIndex] == DENSIFY
    ]


def _dense_values(path: Path, tensors: list[int]) -> dict[int, np.ndarray]:
    """The main subgraph's `tensors` as LiteRT's reference kernels compute them."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interpreter = Interpreter(  # the reference kernels: XNNPACK would take DENSIFY's consumers whole
        str(path),
        experimental_preserve_all_tensors=True,
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    interpreter.allocate_tensors()
    for detail in interpreter.get_input_details():
        interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
    interpreter.invoke()
    return {index: np.array(interpreter.get_tensor(index)) for index in tensors}


def densified(path: Path, folder: Path | None = None) -> Path | None:
    """A dense copy of the TFLite model at `path` in `folder` (a temporary one by default), or
    None when it has no DENSIFY op. Only the main subgraph's DENSIFY ops are expanded."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    data = bytearray(path.read_bytes())
    codes = schema.Model.GetRootAsModel(data, 0)  # a look at the opcodes only: no unpacking of weights
    if not any(
        max(codes.OperatorCodes(i).BuiltinCode(), codes.OperatorCodes(i).DeprecatedBuiltinCode()) == DENSIFY
        for i in range(codes.OperatorCodesLength())
    ):
        return None
    model = schema.ModelT.InitFromPackedBuf(data, 0)
    found = _densify_ops(model)
    if not found:
        return None
    if any(g != 0 for g, _ in found):
        raise NotImplementedError("DENSIFY outside the main subgraph")
    graph = model.subgraphs[0]
    values = _dense_values(path, [int(op.outputs[0]) for _, op in found])
    for _, op in found:
        sparse, dense = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
        buffer = schema.BufferT()
        buffer.data = np.frombuffer(values[int(op.outputs[0])].tobytes(), np.uint8)
        model.buffers.append(buffer)
        dense.buffer = len(model.buffers) - 1
        sparse.buffer, sparse.sparsity = 0, None  # orphaned: no longer a constant anyone reads
    graph.operators = [op for op in graph.operators if all(op is not o for _, o in found)]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    folder = folder or Path(tempfile.mkdtemp(prefix="edgekit-dense-"))
    out = folder / f"{path.stem}.dense.tflite"
    out.write_bytes(bytes(builder.Output()))
    return out
