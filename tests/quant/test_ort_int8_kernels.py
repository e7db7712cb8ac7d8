"""onnxruntime sessions edgekit measures with compute int8 exactly on every CPU.

On x86 without VNNI (AVX2, AVX-512 before VNNI) ORT's default int8 kernels multiply uint8
activations by int8 weights with VPMADDUBSW, whose 16-bit pairwise sums saturate; on ARM and
VNNI CPUs they do not. MobileNetV2 int8 lost 2 more photos of 22 to that on an AVX2 EPYC than
on emulated Cortex-A76 (`edge_kit.models.onnx_models.X64_QUANT_PRECISION`).
"""

import numpy as np

C = 64  # input channels of the 1x1 conv: 32 saturating pairs per output


def _qdq_conv() -> bytes:
    """x (int8 127 = 1.0) * w (int8 127 = 1.0) summed over C channels: exactly 64.0 in float,
    64.2 after the output's int8 step of 0.6; a saturating kernel gets a small fraction of it."""
    from onnx import TensorProto, helper, numpy_helper

    def const(name: str, value: object) -> object:
        return numpy_helper.from_array(np.asarray(value), name)

    inits = [
        const("sx", np.float32(1 / 127)),
        const("sw", np.float32(1 / 127)),
        const("sy", np.float32(0.6)),
        const("z", np.int8(0)),
        const("w", np.full((1, C, 1, 1), 127, np.int8)),
    ]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "sx", "z"], ["xq"]),
        helper.make_node("DequantizeLinear", ["xq", "sx", "z"], ["xd"]),
        helper.make_node("DequantizeLinear", ["w", "sw", "z"], ["wd"]),
        helper.make_node("Conv", ["xd", "wd"], ["c"]),
        helper.make_node("QuantizeLinear", ["c", "sy", "z"], ["cq"]),
        helper.make_node("DequantizeLinear", ["cq", "sy", "z"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "qdq_conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, C, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 4, 4])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    return model.SerializeToString()


def test_ort_session_int8_conv_is_exact():
    from edge_kit.models.onnx_models import ort_session

    session = ort_session(_qdq_conv())
    (y,) = session.run(None, {"x": np.ones((1, C, 4, 4), np.float32)})
    np.testing.assert_allclose(y, np.full((1, 1, 4, 4), 64.2, np.float32), rtol=1e-5)
