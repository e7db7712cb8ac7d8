"""The registries edgekit dispatches on: formats, source types, conversion routes and bridges.

Every format module and source module contributes through a `register(registry)` function;
the built-in ones are listed in `BUILTIN`, plugins come from the entry-point groups
`edgekit.formats` and `edgekit.sources` (each entry point names such a function), or from
`register_format` / `register_source` / `register_route` calls. Lookups never branch on a
framework or format name: an unknown pair is a typed error naming the pairs that exist.
"""

from __future__ import annotations

import difflib
import importlib
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from edge_kit.errors import UnsupportedError, UsageError
from edge_kit.exporters.base import Format, Route

BUILTIN = (
    "edge_kit.exporters.tflite",
    "edge_kit.exporters.onnx",
    "edge_kit.exporters.executorch",
    "edge_kit.exporters.ptl",
    "edge_kit.models.torch_models",
    "edge_kit.models.tf_models",
    "edge_kit.models.onnx_models",
    "edge_kit.models.tflite_models",
    "edge_kit.models.jax_files",
    "edge_kit.bridges.jax_convert",
    "edge_kit.bridges.onnx_to_torch",
    "edge_kit.bridges.to_onnx",
)
ENTRY_POINT_GROUPS = ("edgekit.formats", "edgekit.sources")


@dataclass(frozen=True)
class SourceType:
    """A kind of source model: how to recognise it and load it, from a file or a live object.

    `detect(path)` is consulted for files the built-in content sniffer does not recognise
    (plugins); `load(path, options)` returns a `SourceModel`; `accepts(obj)` / `wrap(obj,
    options)` do the same for live objects handed to the Python API.
    """

    name: str
    framework: str
    description: str
    load: Callable[[Path, Any], Any] | None = None
    detect: Callable[[Path], bool] | None = None
    accepts: Callable[[Any], bool] | None = None
    wrap: Callable[[Any, Any], Any] | None = None


@dataclass(frozen=True)
class Bridge:
    """Turns a source of one framework into a source of another (e.g. ONNX -> torch), so that
    every route of the second framework becomes a route of the first, for `formats`."""

    name: str
    framework: str
    to_framework: str
    convert: Callable[[Any, Any], Any]  # (source, ExportOptions) -> source of `to_framework`
    formats: tuple[str, ...] = ()


class Registry:
    """Formats by name, source types by name, routes by (framework, format), bridges."""

    def __init__(self) -> None:
        self.formats: dict[str, Format] = {}
        self.sources: dict[str, SourceType] = {}
        self.routes: dict[tuple[str, str], list[Route]] = {}
        self.bridges: list[Bridge] = []

    def add_format(self, fmt: Format) -> None:
        self.formats[fmt.name] = fmt

    def add_source(self, source: SourceType) -> None:
        self.sources[source.name] = source

    def add_route(self, route: Route, *, first: bool = False) -> None:
        routes = self.routes.setdefault((route.framework, route.format), [])
        routes[:] = [r for r in routes if r.name != route.name]
        routes.insert(0, route) if first else routes.append(route)

    def add_bridge(self, bridge: Bridge) -> None:
        self.bridges = [b for b in self.bridges if b.name != bridge.name] + [bridge]


_REGISTRY = Registry()
_LOADED = False
_LOCK = threading.Lock()


def registry() -> Registry:
    """The process registry, with built-ins and installed plugins registered on first use."""
    global _LOADED
    if not _LOADED:
        with _LOCK:
            if not _LOADED:
                for name in BUILTIN:
                    importlib.import_module(name).register(_REGISTRY)
                for register in _plugins():
                    register(_REGISTRY)
                _LOADED = True
    return _REGISTRY


def _plugins() -> Iterable[Callable[[Registry], None]]:
    for group in ENTRY_POINT_GROUPS:
        for entry in sorted(metadata.entry_points(group=group), key=lambda e: e.name):
            try:
                yield entry.load()
            except Exception as exc:  # noqa: BLE001 - a broken plugin must not break edgekit
                from edge_kit import progress

                progress.warn(f"plugin {entry.name} ({entry.value}) failed to load: {type(exc).__name__}: {exc}")


def register_format(fmt: Format, routes: Iterable[Route] = ()) -> None:
    """Register a format (and routes to it) from outside edgekit."""
    reg = registry()
    reg.add_format(fmt)
    for route in routes:
        reg.add_route(route)


def register_source(source: SourceType) -> None:
    registry().add_source(source)


def register_route(route: Route, *, first: bool = False) -> None:
    registry().add_route(route, first=first)


# --- lookups ---------------------------------------------------------------------------


def formats() -> dict[str, Format]:
    return dict(registry().formats)


def get_format(name: str) -> Format:
    """The format for a name or alias; an unknown name lists the known ones and the closest."""
    key = name.lower()
    for fmt in registry().formats.values():
        if key == fmt.name or key in fmt.aliases:
            return fmt
    known = list(registry().formats)
    close = difflib.get_close_matches(key, known, n=1)
    hint = (f"did you mean '{close[0]}'? " if close else "") + f"known formats: {', '.join(known)}"
    raise UsageError(f"unknown format '{name}'", hint=hint)


def format_of_file(path: Path) -> Format | None:
    """The format of the file at `path`, recognised from its content (never its name)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(16)
    except OSError:
        return None
    return next((f for f in registry().formats.values() if _detects(f, Path(path), head)), None)


def _detects(fmt: Format, path: Path, head: bytes) -> bool:
    from edge_kit.errors import EdgeKitError

    try:
        return fmt.detect(path, head)
    except EdgeKitError:  # a damaged file of some kind: not this format
        return False


def format_for_suffix(suffix: str) -> Format | None:
    """The format whose artifacts end with `suffix` (e.g. '.tflite')."""
    return next((f for f in registry().formats.values() if suffix.lower() in f.suffixes), None)


def source_type(name: str) -> SourceType:
    try:
        return registry().sources[name]
    except KeyError:
        raise UsageError(
            f"no loader for source kind '{name}'", hint=f"known: {', '.join(registry().sources)}"
        ) from None


def routes_for(framework: str, fmt: str, _seen: frozenset[str] = frozenset()) -> list[Route]:
    """The routes from `framework` to `fmt`, in the order they are tried: direct routes first,
    then each bridge's (a bridged route is named 'bridge+route'; bridges chain, e.g. JAX → ONNX
    → torch → ExecuTorch)."""
    reg = registry()
    found = list(reg.routes.get((framework, fmt), []))
    seen = _seen | {framework}
    for bridge in reg.bridges:
        if (
            bridge.framework == framework
            and bridge.to_framework not in seen
            and (not bridge.formats or fmt in bridge.formats)
        ):
            found += [_bridged(bridge, r) for r in routes_for(bridge.to_framework, fmt, seen)]
    return found


def _bridged(bridge: Bridge, route: Route) -> Route:
    def bridged(source: Any, options: Any) -> Any:
        if bridge.name not in options.state.bridged:  # once per export, whatever the re-quantizations
            options.state.bridged[bridge.name] = bridge.convert(source, options)
        return options.state.bridged[bridge.name]

    def convert(source: Any, dest: Path, options: Any) -> dict[str, Any]:
        middle = bridged(source, options)
        facts = route.convert(middle.prepared(options), dest, options)
        return {**facts, "bridge": bridge.name, **getattr(middle, "bridge_facts", {})}

    def layers(source: Any, options: Any) -> list[str]:
        return route.layers(bridged(source, options).prepared(options), options) if route.layers else []

    return Route(
        name=f"{bridge.name}+{route.name}",
        framework=bridge.framework,
        format=route.format,
        convert=convert,
        precisions=route.precisions,
        layers=layers if route.layers else None,
        description=f"{bridge.name}, then {route.description or route.name}",
        versions=route.versions,
        via=route.via or bridge.to_framework,
    )


def precisions(framework: str, fmt: str) -> tuple[str, ...]:
    """Every precision of `fmt` reachable from `framework`: what its routes make, plus what the
    format derives from its own fp32 artifact."""
    routes = routes_for(framework, fmt)
    if not routes:
        return ()
    made = {p for r in routes for p in r.precisions}
    if "fp32" in made:
        made |= set(get_format(fmt).artifact_precisions)
    return tuple(p for p in ("fp32", "fp16", "int8-dynamic", "int8") if p in made)


def pairs() -> dict[tuple[str, str], tuple[str, ...]]:
    """(framework, format) -> precisions, for every pair some route reaches."""
    found = {(fw, fmt): precisions(fw, fmt) for fw in frameworks() for fmt in registry().formats}
    return {pair: p for pair, p in found.items() if p}


def frameworks() -> tuple[str, ...]:
    """Every source framework some route (or bridge) starts from."""
    reg = registry()
    return tuple(sorted({fw for fw, _ in reg.routes} | {b.framework for b in reg.bridges}))


def calibration_methods(fmt: str, framework: str) -> tuple[str, ...]:
    """The static int8 calibration methods for `framework` → `fmt`: its quantizing routes', or the
    format's own artifact quantizer's when a route makes fp32 only."""
    methods: dict[str, None] = {}
    for route in routes_for(framework, fmt):
        if "int8" in route.precisions:
            methods.update(dict.fromkeys(route.calibration_methods))
        elif "fp32" in route.precisions and "int8" in get_format(fmt).artifact_precisions:
            methods.update(dict.fromkeys(get_format(fmt).artifact_calibration_methods))
    return tuple(methods)


def io_types(fmt: str, framework: str) -> tuple[str, ...]:
    """The int8 input/output types every quantizing route from `framework` to `fmt` supports."""
    quantizing = [r for r in routes_for(framework, fmt) if "int8" in r.precisions]
    return tuple(t for t in ("float32", "int8", "uint8") if quantizing and all(t in r.io_types for r in quantizing))


def check_pair(framework: str, fmt: str, precision: str) -> None:
    """Raise UnsupportedError naming the pairs that exist when `framework` cannot reach `fmt`
    at `precision`."""
    if precision in precisions(framework, fmt):
        return
    what = f"{framework} → {fmt}" if precision == "fp32" else f"{framework} → {fmt} at {precision}"
    to_fmt = [f"{fw} → {f} ({', '.join(p)})" for (fw, f), p in pairs().items() if f == fmt or fw == framework]
    raise UnsupportedError(f"no conversion path {what}", hint=f"supported: {'; '.join(to_fmt) or 'none'}")
