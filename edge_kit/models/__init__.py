"""Load a source model of any supported kind, detected by content."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from edge_kit.errors import UnsupportedError
from edge_kit.models.base import SourceModel
from edge_kit.models.sniff import SOURCE_KINDS, Kind, sniff
from edge_kit.signature import resolve_inputs

__all__ = ["Kind", "SourceModel", "load_model", "sniff", "sniff_source"]


def sniff_source(path: Path) -> Kind:
    """The kind of a source model (what `load_model` takes), or a ModelLoadError/UnsupportedError."""
    path = Path(path)
    kind = sniff(path)
    if kind not in SOURCE_KINDS:
        raise UnsupportedError(
            f"{path.name} is already an exported {kind.value} artifact, not a source model",
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
) -> SourceModel:
    """Sniff, load and resolve the concrete input signature of a source model."""
    path = Path(path)
    kind = sniff_source(path)
    if kind in (Kind.TORCHSCRIPT, Kind.EXPORTED_PROGRAM, Kind.TORCH_PICKLE):
        from edge_kit.models.torch_models import load_torch

        source: SourceModel = load_torch(path, kind, model_class, trust)
    elif kind is Kind.ONNX:
        from edge_kit.models.onnx_models import load_onnx

        source = load_onnx(path)
    else:
        from edge_kit.models.tf_models import load_tf

        source = load_tf(path, kind, trust)
    source.inputs = resolve_inputs(source.declared_inputs(), input_shapes, input_dtypes, source.framework)
    return source
