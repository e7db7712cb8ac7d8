"""Load a source model of any registered kind: a file detected by content, or a live object."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from edge_kit.errors import ModelLoadError, UnsupportedError, UsageError
from edge_kit.models.base import LoadOptions, SourceModel
from edge_kit.models.sniff import SOURCE_KINDS, Kind, sniff

__all__ = ["Kind", "LoadOptions", "SourceModel", "from_object", "load_model", "sniff", "sniff_source"]


def _plugin_kind(path: Path) -> str | None:
    """A registered source type whose own detector claims `path` (plugins)."""
    from edge_kit.registry import registry

    return next((s.name for s in registry().sources.values() if s.detect is not None and s.detect(path)), None)


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # a name too long for the file system: sniff's own error says so
        return False


def sniff_source(path: Path) -> str:
    """The kind of a source model (what `load_model` takes), or a ModelLoadError/UnsupportedError."""
    path = Path(path)
    try:
        kind: str = sniff(path)
    except ModelLoadError:
        if not _exists(path) or (found := _plugin_kind(path)) is None:
            raise
        return found
    if kind not in SOURCE_KINDS:
        raise UnsupportedError(
            f"{path.name} is already an exported {Kind(kind).value} artifact, not a source model",
            hint="export from the original PyTorch, Keras or ONNX model; "
            "artifacts go to `edgekit profile` or `edgekit package`",
        )
    return kind


def load_model(
    path: Path,
    *,
    input_shapes: Sequence[tuple[int, ...]] = (),
    input_dtypes: Sequence[str] = (),
    model_class: str | None = None,
    trust: bool = False,
    input_specs: Sequence[Any] = (),
    dims: dict[str, Any] | None = None,
) -> SourceModel:
    """Sniff, load and resolve the concrete input signature of a source model file."""
    from edge_kit.registry import source_type

    options = LoadOptions(
        input_shapes, input_dtypes, model_class, trust, input_specs=input_specs, dims=dict(dims or {})
    )
    found = sniff_source(Path(path))
    kind = source_type(found.value if isinstance(found, Kind) else found)
    if kind.load is None:
        raise UsageError(f"{kind.description} sources cannot be read from a file")
    return _resolved(kind.load(Path(path), options), options)


def from_object(obj: Any, options: LoadOptions) -> SourceModel:
    """A source model from a live object (nn.Module, ExportedProgram, keras.Model, ...)."""
    from edge_kit.registry import registry

    for kind in registry().sources.values():
        if kind.accepts is not None and kind.wrap is not None and kind.accepts(obj):
            return _resolved(kind.wrap(obj, options), options)
    known = ", ".join(s.description for s in registry().sources.values() if s.accepts is not None)
    raise UsageError(f"edgekit cannot export a {type(obj).__name__}", hint=f"pass a model file or one of: {known}")


def _resolved(source: SourceModel, options: LoadOptions) -> SourceModel:
    """The source with its concrete signature: the model's, narrowed by what the user said."""
    from edge_kit.inputspec import InputRequest, resolve

    request = InputRequest(
        list(options.input_shapes), list(options.input_dtypes), list(options.input_specs), dict(options.dims)
    )
    signature = resolve(
        source.declared_inputs(),
        request,
        source.framework,
        source.declared_ranges(),
        source.suggested_sizes(),
        source.arguments(),
    )
    source.inputs, source.ranges = signature.inputs, signature.ranges
    floats = [s for s in source.inputs if s.name in source.index_inputs() and s.dtype.startswith("float")]
    if floats:
        raise UsageError(
            f"input '{floats[0].name}' is used as indices (an embedding lookup) but would be {floats[0].dtype}",
            hint=f"pass --input-dtype int64 (or --input-spec {floats[0].name}=SHAPE:int64:tokens)",
        )
    return source
