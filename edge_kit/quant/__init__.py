"""Per-format quantization, called by the exporter modules (one module per format).

`pt2e` holds what the PyTorch paths share (ExecuTorch and litert-torch both quantize
with PT2E); `onnx`, `tflite` and `executorch` each implement one format's precisions
and name the layers that format can keep in float (for the accuracy budget).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from edge_kit.exporters.base import ExportOptions


def scratch(options: ExportOptions) -> Path:
    """A folder for intermediate files during one export (kept for its budget search)."""
    if options.workdir is None:
        holder = tempfile.TemporaryDirectory(prefix="edgekit-quant-")
        options.extra.setdefault("_tmpdirs", []).append(holder)  # removed with the options
        options.workdir = Path(holder.name)
    return options.workdir
