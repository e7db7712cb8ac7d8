"""TorchScript-lite `.ptl` (PyTorch Mobile lite interpreter): freeze + _save_for_lite_interpreter.

Deprecated upstream in favour of ExecuTorch: offered on request only, never chosen by default.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edge_kit.errors import ModelLoadError
from edge_kit.exporters.base import ExportOptions, Format, Route
from edge_kit.models.base import flatten_outputs
from edge_kit.signature import TensorSpec

if TYPE_CHECKING:
    from edge_kit.registry import Registry


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

        args = [
            np.asarray(a).item()
            if spec.kind == "const" and not spec.shape
            else torch.from_numpy(np.asarray(a, order="C"))
            for spec, a in zip(self.inputs, arrays)
        ]  # a constant scalar argument (TorchScript `int sr`) goes in as a Python number, as forward takes it
        with torch.no_grad():
            return flatten_outputs(self.module(*args))


def _lite(source: Any, dest: Path, options: ExportOptions) -> dict[str, Any]:
    import torch

    frozen = torch.jit.freeze(source.torchscript().eval())
    frozen._save_for_lite_interpreter(str(dest))
    return {"frozen": True}


class PtlFormat(Format):
    name = "ptl"
    suffix = ".ptl"
    aliases = ("torchscript-lite",)
    runtime = "torch-lite-interpreter"
    description = "TorchScript-lite for the PyTorch Mobile lite interpreter (deprecated upstream)"
    deprecation = "PyTorch Mobile (.ptl) is deprecated upstream; prefer --format executorch for new deployments"
    runtime_distributions = ("torch",)

    def detect(self, path: Path, head: bytes) -> bool:
        from edge_kit.models.sniff import Kind, sniff

        return head.startswith(b"PK") and sniff(path) is Kind.TORCHSCRIPT_LITE

    def load(self, path: Path, source_inputs: Sequence[TensorSpec], threads: int = 0) -> PtlRunner:
        return PtlRunner(path, source_inputs)


def register(registry: Registry) -> None:
    registry.add_format(PtlFormat())
    registry.add_route(Route("torchscript-lite", "torch", "ptl", _lite, description="freeze + lite interpreter"))
