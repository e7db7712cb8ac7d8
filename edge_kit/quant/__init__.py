"""Quantization, called by the format modules' routes (one module per format).

`pt2e` holds what the PyTorch paths share (ExecuTorch and litert-torch both quantize
with PT2E); `prepare` equalizes and bias-corrects torch sources first when a recipe asks;
`onnx`, `tflite` and `executorch` each implement one format's precisions and name the
layers that format can keep in float (for the accuracy budget).
"""

from __future__ import annotations

from pathlib import Path

from edge_kit.exporters.base import ExportOptions


def scratch(options: ExportOptions) -> Path:
    """A folder for intermediate files during one export (kept for its budget search)."""
    return options.scratch()
