"""MediaPipe's `Convolution2DTransposeBias` custom op, which tf2onnx leaves unconverted, rewritten
as ConvTranspose: the real selfie-segmentation model in the mediapipe wheel (make zoo-deps)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from edge_kit.bridges.tflite_custom_ops import SAME, VALID, _transpose_conv_pads, custom_options


@pytest.mark.parametrize(
    ("kernel", "strides", "padding", "pads", "extra"),
    [
        ([2, 2], [2, 2], SAME, [0, 0, 0, 0], [0, 0]),  # the selfie head: exactly 2x
        ([3, 3], [2, 2], SAME, [0, 0, 1, 1], [0, 0]),  # one extra row/column, at the end
        ([4, 4], [2, 2], SAME, [1, 1, 1, 1], [0, 0]),
        ([1, 1], [2, 2], SAME, [0, 0, 0, 0], [1, 1]),  # kernel below stride: output_padding
        ([3, 3], [2, 2], VALID, [0, 0, 0, 0], [0, 0]),
    ],
)
def test_transpose_conv_padding_gives_tflites_output_size(kernel, strides, padding, pads, extra):
    assert _transpose_conv_pads(kernel, strides, padding) == (pads, extra)
    if padding == SAME:  # ConvTranspose: out = s * (in - 1) + k - pads + output_padding = s * in
        size = 7
        for axis, (k, s) in enumerate(zip(kernel, strides)):
            out = s * (size - 1) + k - pads[axis] - pads[axis + len(kernel)] + extra[axis]
            assert out == s * size


def _selfie() -> Path:
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("mediapipe is not installed (make zoo-deps)")
    path = Path(next(iter(spec.submodule_search_locations))) / "modules/selfie_segmentation/selfie_segmentation.tflite"
    if not path.is_file():
        pytest.skip(f"{path} is not in this mediapipe")
    return path


def test_selfie_segmentation_head_matches_tflite_before_its_sigmoid(tmp_path: Path) -> None:
    """The custom op's output (logits of about ±800 on random input) against LiteRT's own tensor."""
    import onnx
    import onnxruntime as ort
    from ai_edge_litert.interpreter import Interpreter

    import edge_kit

    model = _selfie()
    assert custom_options(model) == {
        "segment": ("Convolution2DTransposeBias", bytes.fromhex("01000000" + "02000000" * 2))
    }
    result = edge_kit.export(model, format="onnx", output=tmp_path / "selfie.onnx")
    assert result.status == "ok" and result.manifest["artifact"]["custom_ops_rewritten"] == 1
    graph = onnx.load(str(result.artifact))
    assert not [n for n in graph.graph.node if n.op_type.startswith("TFL_")]
    graph.graph.output.append(onnx.helper.make_tensor_value_info("segment", onnx.TensorProto.FLOAT, None))
    session = ort.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])
    interpreter = Interpreter(str(model), experimental_preserve_all_tensors=True)
    interpreter.allocate_tensors()
    x = np.random.default_rng(0).random((1, 256, 256, 3), dtype=np.float32)
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    (segment,) = [t for t in interpreter.get_tensor_details() if t["name"] == "segment"]
    expected = interpreter.get_tensor(segment["index"])
    (got,) = session.run(["segment"], {session.get_inputs()[0].name: x})
    scale = float(np.abs(expected).max())
    assert scale > 10 and float(np.abs(got - expected).max()) < 1e-5 * scale
