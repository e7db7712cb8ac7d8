"""Bridges between source frameworks: one model representation converted into another so that a
source reaches the formats of another framework's routes (ONNX → torch.export for TFLite/ExecuTorch).

Each bridge is a plain function over files and framework objects; the conversion registry decides
when to call it. Heavy frameworks are imported lazily inside the functions.
"""
