"""TFLite models as sources: a `.tflite` someone else made (MediaPipe's, a converter's) goes to
ONNX through tf2onnx's TFLite front end, validated against LiteRT running the original."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from edge_kit.models.base import SourceModel
from edge_kit.models.sniff import Kind
from edge_kit.signature import TensorSpec

if TYPE_CHECKING:
    from edge_kit.registry import Registry


class TfliteSource(SourceModel):
    """A TFLite flatbuffer, run by ai-edge-litert as the reference."""

    framework = "tflite"

    def __init__(self, path: Path) -> None:
        from edge_kit.exporters.tflite import TfliteFormat, TfliteRunner

        super().__init__(path, Kind.TFLITE)
        TfliteFormat().check_artifact(Path(path))
        self.runner = TfliteRunner(Path(path))

    def declared_inputs(self) -> list[TensorSpec]:
        return list(self.runner.inputs)

    def run(self, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
        return [np.asarray(o, dtype=np.float32) if o.dtype.kind == "f" else o for o in self.runner.run(arrays)]

    def model_bytes(self) -> bytes:
        return Path(str(self.path)).read_bytes()


def register(registry: Registry) -> None:
    from edge_kit.registry import SourceType

    registry.add_source(
        SourceType(
            Kind.TFLITE.value, "tflite", "TFLite / LiteRT flatbuffer", load=lambda path, options: TfliteSource(path)
        )
    )
