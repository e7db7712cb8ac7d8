"""The format modules: one per artifact format, each registering its `Format` and its routes
in `edge_kit.registry` (see docs/architecture.md)."""

from edge_kit.exporters.base import ExportOptions, Format, Route, Runner

__all__ = ["ExportOptions", "Format", "Route", "Runner"]
