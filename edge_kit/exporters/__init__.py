"""The exporter registry: one module per format, registered here and nowhere else."""

from __future__ import annotations

from edge_kit.errors import UsageError
from edge_kit.exporters.base import Exporter, ExportOptions, Runner
from edge_kit.exporters.executorch import ExecutorchExporter
from edge_kit.exporters.onnx import OnnxExporter
from edge_kit.exporters.ptl import PtlExporter
from edge_kit.exporters.tflite import TfliteExporter

__all__ = ["EXPORTERS", "ExportOptions", "Exporter", "Runner", "exporter_for_artifact", "get_exporter"]

EXPORTERS: dict[str, Exporter] = {
    cls.name: cls() for cls in (TfliteExporter, OnnxExporter, ExecutorchExporter, PtlExporter)
}
ALIASES = {"pte": "executorch", "litert": "tflite", "et": "executorch", "torchscript-lite": "ptl"}


def get_exporter(name: str) -> Exporter:
    """The exporter for a format name (or alias); an unknown name lists the known ones."""
    key = ALIASES.get(name.lower(), name.lower())
    if key not in EXPORTERS:
        raise UsageError(f"unknown format '{name}'", hint=f"known formats: {', '.join(EXPORTERS)}")
    return EXPORTERS[key]


def exporter_for_artifact(suffix: str) -> Exporter | None:
    """The exporter whose artifacts end with `suffix` (e.g. '.tflite')."""
    return next((e for e in EXPORTERS.values() if e.suffix == suffix.lower()), None)
