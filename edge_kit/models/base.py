"""The source model interface every loader returns, whatever the framework.

A source is a model file (or, through the Python API, a live object) plus the concrete
input signature of this export. Routes take the framework-specific subclasses
(`TorchSource`, `TensorFlowSource`, `OnnxSource`); the pipeline only uses what is here.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from edge_kit.signature import DimRange, TensorSpec


@dataclass
class LoadOptions:
    """How to read a source: shapes/dtypes for models that declare none, trust, factories."""

    input_shapes: Sequence[tuple[int, ...]] = ()
    input_dtypes: Sequence[str] = ()
    model_class: str | None = None
    trust: bool = False
    example_inputs: Sequence[Any] | None = None  # live objects: the inputs that define the signature
    input_specs: Sequence[Any] = ()  # edge_kit.inputspec.InputSpec: per-input shape, dtype, values
    dims: dict[str, Any] = field(default_factory=dict)  # dimension name -> size or DimRange
    extra: dict[str, Any] = field(default_factory=dict)  # source-specific arguments (e.g. JAX params)


class SourceModel(ABC):
    """A loaded model: its kind, declared inputs and a reference `run`."""

    framework: ClassVar[str]  # the routes this source can take are keyed by it

    def __init__(self, path: Path | None, kind: str) -> None:
        self.path = Path(path) if path is not None else None
        self.kind = kind
        self.inputs: list[TensorSpec] = []  # concrete specs, set by `load_model`
        self.ranges: dict[str, DimRange] = {}  # bounds of the dimensions that stay dynamic

    @abstractmethod
    def declared_inputs(self) -> list[TensorSpec] | None:
        """The input specs the model declares (dims may be None), or None if it declares none."""

    def declared_ranges(self) -> dict[str, DimRange]:
        """Bounds the model itself gives its dynamic dimensions (e.g. torch.export's)."""
        return {}

    def arguments(self) -> list[tuple[str, str | None]] | None:
        """When the model declares no shapes: its arguments' names, each with the dtype of a
        non-tensor (scalar) argument or None for a tensor; None when unknown."""
        return None

    def index_inputs(self) -> set[str]:
        """Inputs the model uses as indices (embedding lookups): they must be integers."""
        return set()

    def suggested_sizes(self) -> dict[str, int]:
        """Sizes the model records for its dynamic dimensions (e.g. an exporter's image size)."""
        return {}

    @abstractmethod
    def run(self, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Reference outputs from the source framework, as a flat list of arrays."""

    def output_specs(self) -> list[TensorSpec]:
        """Output specs, found by running the model once on sample inputs (constants as given)."""
        from edge_kit.signature import random_inputs

        outs = self.run(random_inputs(self.inputs, 1, seed=0)[0])
        return [TensorSpec(name=f"output_{i}", shape=tuple(o.shape), dtype=str(o.dtype)) for i, o in enumerate(outs)]

    def prepared(self, options: Any) -> SourceModel:
        """The source a route should convert for these export options (e.g. channels equalized
        before int8); itself unless the framework prepares sources."""
        return self

    @property
    def label(self) -> str:
        """A name for messages and default file names."""
        return self.path.name if self.path is not None else f"<{type(self).__name__}>"

    def weights_digest(self) -> str | None:
        """sha256 of a live object's weights (files are hashed as files); None when unknown."""
        return None

    def sha256(self) -> str | None:
        if self.path is None or not self.path.exists():  # a live object (a JAX function names itself)
            return self.weights_digest()
        from edge_kit.fsutil import sha256_file

        return sha256_file(self.path)  # a folder (SavedModel): every file, in order

    def describe(self) -> dict[str, Any]:
        path = str(self.path) if self.path is not None else f"<live {self.kind}>"
        return {"path": path, "kind": str(getattr(self.kind, "value", self.kind)), "framework": self.framework}


def digest_arrays(arrays: Sequence[np.ndarray]) -> str:
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(str(array.dtype).encode() + str(array.shape).encode() + np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def flatten_outputs(value: Any) -> list[np.ndarray]:
    """Flatten tensors / arrays nested in tuples, lists and dicts into a list of numpy arrays."""
    if isinstance(value, dict):
        return [a for key in value for a in flatten_outputs(value[key])]
    if isinstance(value, (list, tuple)):
        return [a for item in value for a in flatten_outputs(item)]
    if hasattr(value, "detach"):
        return [value.detach().cpu().numpy()]
    if hasattr(value, "numpy"):
        return [np.asarray(value.numpy())]
    return [np.asarray(value)]
