"""edgekit: export, quantize, profile and package ML models for edge devices.

The public API (`export`, `profile`, `bench`, `package`; see `edge_kit.api`) and the plugin
hooks (`register_format`, `register_source`, `register_route`; see `edge_kit.registry`) are
imported on first use, so `import edge_kit` and `edgekit --help` stay fast.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_API = {"export", "profile", "bench", "package", "ExportResult", "ProfileResult", "BenchResult"}
_REGISTRY = {"register_format", "register_source", "register_route", "Format", "Route", "SourceType", "Bridge"}
__all__ = sorted(_API | _REGISTRY | {"__version__"})


def __getattr__(name: str) -> Any:
    if name in _API:
        from edge_kit import api

        return getattr(api, name)
    if name in _REGISTRY:
        from edge_kit import registry

        return getattr(registry, name)
    raise AttributeError(f"module 'edge_kit' has no attribute '{name}'")
