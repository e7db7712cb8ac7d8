"""MediaPipe's TFLite custom ops that tf2onnx passes through unconverted, rewritten as standard ONNX.

tf2onnx keeps an op it does not know as a node of type `TFL_<custom code>` that no runtime loads.
`Convolution2DTransposeBias` (the upsampling head of MediaPipe's selfie segmentation and hair
models) is a transposed convolution with a bias, its parameters a raw `TfLiteTransposeConvParams`
(padding, stride_width, stride_height: three int32) in the operator's custom options. It becomes
Transpose → ConvTranspose → Transpose (tf2onnx's graph is NHWC around it).
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import numpy as np

SAME, VALID = 1, 2  # TfLitePadding


def custom_options(path: Path) -> dict[str, tuple[str, bytes]]:
    """Each custom operator of the TFLite model: its first output tensor's name → (custom code, options)."""
    from ai_edge_litert import schema_py_generated as schema

    model = schema.Model.GetRootAsModel(path.read_bytes(), 0)
    codes = [model.OperatorCodes(i) for i in range(model.OperatorCodesLength())]
    found: dict[str, tuple[str, bytes]] = {}
    for g in range(model.SubgraphsLength()):
        graph = model.Subgraphs(g)
        for i in range(graph.OperatorsLength()):
            op = graph.Operators(i)
            code = codes[op.OpcodeIndex()].CustomCode()
            if code and op.OutputsLength():
                name = graph.Tensors(op.Outputs(0)).Name().decode()
                found[name] = (code.decode(), op.CustomOptionsAsNumpy().tobytes() if op.CustomOptionsLength() else b"")
    return found


def _transpose_conv_pads(kernel: list[int], strides: list[int], padding: int) -> tuple[list[int], list[int]]:
    """(pads, output_padding) for ONNX ConvTranspose giving TFLite's output size (SAME: in x stride)."""
    if padding == VALID:
        return [0] * (2 * len(kernel)), [0] * len(kernel)
    begin, end, extra = [], [], []
    for k, s in zip(kernel, strides):
        total = k - s
        begin.append(max(total, 0) // 2)
        end.append(max(total, 0) - max(total, 0) // 2)
        extra.append(max(-total, 0))
    return begin + end, extra


def _conv_transpose_bias(node: Any, options: bytes, weights: np.ndarray, prefix: str) -> tuple[list[Any], list[Any]]:
    from onnx import helper, numpy_helper

    if len(options) < 12:
        raise NotImplementedError(f"{node.op_type} '{node.name}' with {len(options)} bytes of options")
    padding, stride_w, stride_h = struct.unpack("<iii", options[:12])
    if padding not in (SAME, VALID) or stride_w < 1 or stride_h < 1:
        raise NotImplementedError(f"{node.op_type} '{node.name}' with options {padding, stride_w, stride_h}")
    kernel = [int(weights.shape[1]), int(weights.shape[2])]  # OHWI
    pads, extra = _transpose_conv_pads(kernel, [stride_h, stride_w], padding)
    weight = numpy_helper.from_array(np.ascontiguousarray(weights.transpose(3, 0, 1, 2)), f"{prefix}/weight")
    attrs: dict[str, Any] = {"kernel_shape": kernel, "strides": [stride_h, stride_w], "pads": pads}
    if any(extra):
        attrs["output_padding"] = extra
    nodes = [
        helper.make_node("Transpose", [node.input[0]], [f"{prefix}/nchw"], name=f"{prefix}/to_nchw", perm=[0, 3, 1, 2]),
        helper.make_node(
            "ConvTranspose",
            [f"{prefix}/nchw", weight.name, *node.input[2:3]],
            [f"{prefix}/y"],
            name=node.name or prefix,
            **attrs,
        ),
        helper.make_node("Transpose", [f"{prefix}/y"], [node.output[0]], name=f"{prefix}/to_nhwc", perm=[0, 2, 3, 1]),
    ]
    return nodes, [weight]


def replace_custom_ops(model: Any, tflite_path: Path) -> int:
    """Rewrite the `TFL_Convolution2DTransposeBias` nodes of tf2onnx's `model` in place; the count."""
    from onnx import numpy_helper

    custom = [n for n in model.graph.node if n.op_type == "TFL_Convolution2DTransposeBias"]
    if not custom:
        return 0
    options = custom_options(Path(tflite_path))
    inits = {i.name: i for i in model.graph.initializer}
    nodes: list[Any] = []
    for node in model.graph.node:
        if node not in custom:
            nodes.append(node)
            continue
        if node.input[1] not in inits:
            raise NotImplementedError(f"{node.op_type} '{node.name}' with computed weights")
        weights = numpy_helper.to_array(inits[node.input[1]])
        code, raw = options.get(node.output[0], ("", b""))
        if code != "Convolution2DTransposeBias":
            raise NotImplementedError(f"{node.op_type} '{node.name}': its operator is not in the TFLite file")
        replaced, new_inits = _conv_transpose_bias(node, raw, weights, f"{node.name or node.output[0]}/edgekit")
        nodes.extend(replaced)
        model.graph.initializer.extend(new_inits)
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    return len(custom)
