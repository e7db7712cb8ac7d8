"""The source model interface every loader returns."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from edge_kit.models.sniff import Kind
from edge_kit.signature import TensorSpec


class SourceModel(ABC):
    """A loaded model: its kind, declared inputs and a reference `run`."""

    framework: ClassVar[str]  # "torch" | "tensorflow" | "onnx"

    def __init__(self, path: Path, kind: Kind) -> None:
        self.path = Path(path)
        self.kind = kind
        self.inputs: list[TensorSpec] = []  # concrete specs, set by `load_model`

    @abstractmethod
    def declared_inputs(self) -> list[TensorSpec] | None:
        """The input specs the model declares (dims may be None), or None if it declares none."""

    @abstractmethod
    def run(self, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Reference outputs from the source framework, as a flat list of arrays."""

    def output_specs(self) -> list[TensorSpec]:
        """Output specs, found by running the model once on zeros."""
        outs = self.run([np.zeros([int(d) for d in s.shape], dtype=s.dtype) for s in self.inputs])
        return [TensorSpec(name=f"output_{i}", shape=tuple(o.shape), dtype=str(o.dtype)) for i, o in enumerate(outs)]

    def describe(self) -> dict[str, Any]:
        return {"path": str(self.path), "kind": self.kind.value, "framework": self.framework}


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
