"""TorchScript-lite `.ptl` (PyTorch Mobile lite interpreter): freeze + _save_for_lite_interpreter.

Deprecated upstream in favour of ExecuTorch: offered on request only, never chosen by default.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edge_kit.errors import ModelLoadError
from edge_kit.exporters.base import Exporter, ExportOptions, package_version
from edge_kit.models.base import SourceModel, flatten_outputs
from edge_kit.signature import TensorSpec


class PtlRunner:
    """The lite interpreter declares no input specs: the source's are used."""

    def __init__(self, path: Path, source_inputs: Sequence[TensorSpec]) -> None:
        from torch.jit.mobile import _load_for_lite_interpreter

        try:
            self.module = _load_for_lite_interpreter(str(path))
        except (RuntimeError, ValueError) as exc:
            raise ModelLoadError(
                f"the lite interpreter cannot load {Path(path).name}: {str(exc).splitlines()[0][:200]}"
            ) from None
        self.inputs = list(source_inputs)
        self.outputs: list[TensorSpec] = []

    def run(self, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
        import torch

        with torch.no_grad():
            return flatten_outputs(self.module(*[torch.from_numpy(np.ascontiguousarray(a)) for a in arrays]))


class PtlExporter(Exporter):
    name = "ptl"
    suffix = ".ptl"
    runtime = "torch-lite-interpreter"
    description = "TorchScript-lite for the PyTorch Mobile lite interpreter (deprecated upstream)"
    support = {"torch": ("fp32",)}
    deprecation = "PyTorch Mobile (.ptl) is deprecated upstream; prefer --format executorch for new deployments"

    def export(self, source: SourceModel, dest: Path, options: ExportOptions) -> dict[str, Any]:
        import torch

        frozen = torch.jit.freeze(source.torchscript().eval())  # type: ignore[attr-defined]
        frozen._save_for_lite_interpreter(str(dest))
        return {"frozen": True}

    def load(self, path: Path, source_inputs: Sequence[TensorSpec], threads: int = 0) -> PtlRunner:
        return PtlRunner(path, source_inputs)

    def versions(self, source: SourceModel | None = None) -> dict[str, str | None]:
        return {"torch": package_version("torch")}
