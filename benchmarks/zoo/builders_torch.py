"""Builders for torch models (timm, transformers, ultralytics): random weights from configs,
saved with `torch.export.save` as the `.pt2` edgekit takes. Nothing is downloaded."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

SEED = 0


def save_pt2(module: Any, args: tuple, path: Path) -> None:
    """`torch.export.export` the module on `args` and save it, as a user would."""
    import torch

    module.eval()
    with torch.no_grad():
        program = torch.export.export(module, args)
    torch.export.save(program, str(path))


def _example(inputs: tuple) -> tuple:
    """One example input per spec, as torch tensors (the shapes the program is exported with)."""
    import numpy as np
    import torch

    rng = np.random.default_rng(SEED)
    return tuple(torch.from_numpy(spec.sample(rng, 1)) for spec in inputs)


def timm_builder(arch: str, inputs: tuple) -> Callable[[Path], None]:
    """A timm architecture with random weights (`pretrained=False`: timm downloads nothing)."""

    def build(path: Path) -> None:
        import torch

        from benchmarks.zoo.torchvision_shim import ensure_torchvision

        ensure_torchvision()
        import timm

        torch.manual_seed(SEED)
        save_pt2(timm.create_model(arch, pretrained=False), _example(inputs), path)

    return build


def first_output(model: Any, names: tuple[str, ...]) -> Any:
    """Wraps a transformers model: positional inputs by name, its first output (logits or last
    hidden state) as one tensor -- the plain single forward a user exports."""
    import torch

    class FirstOutput(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *args: torch.Tensor) -> torch.Tensor:
            return self.model(**dict(zip(names, args)), return_dict=False)[0]

    return FirstOutput()


def transformers_builder(make: Callable[[], Any], inputs: tuple) -> Callable[[Path], None]:
    """A transformers architecture from a small config, random weights (no hub access)."""

    def build(path: Path) -> None:
        import torch

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from benchmarks.zoo.torchvision_shim import ensure_torchvision

        try:
            ensure_torchvision()  # when installed, transformers finds it: it must import cleanly
        except ModuleNotFoundError:
            pass
        torch.manual_seed(SEED)
        model = make().eval()
        names = tuple(spec.name for spec in inputs)
        save_pt2(first_output(model, names), _example(inputs), path)

    return build


def hf(kind: str, config: str, **settings: Any) -> Callable[[], Any]:
    """`transformers.<kind>(transformers.<config>(**settings))`, built lazily."""

    def make() -> Any:
        import transformers

        cfg = getattr(transformers, config)(**settings)
        return getattr(transformers, kind)(cfg)

    return make


def whisper_encoder(**settings: Any) -> Callable[[], Any]:
    """The encoder of a Whisper model from a small config (audio features -> hidden states)."""

    def make() -> Any:
        import transformers

        return transformers.WhisperModel(transformers.WhisperConfig(**settings)).get_encoder()

    return make


def ultralytics_builder(yaml_name: str, inputs: tuple) -> Callable[[Path], None]:
    """An ultralytics detector built from its bundled yaml (no weights: random init), fused and in
    export mode as `yolo export` prepares it, so the forward returns the one prediction tensor."""

    def build(path: Path) -> None:
        import torch

        os.environ.setdefault("YOLO_OFFLINE", "1")
        os.environ.setdefault("YOLO_CONFIG_DIR", str(path.parent / ".ultralytics"))
        from benchmarks.zoo.torchvision_shim import ensure_torchvision

        ensure_torchvision()
        from ultralytics.nn.tasks import DetectionModel

        torch.manual_seed(SEED)
        model = DetectionModel(yaml_name, nc=80, verbose=False).eval()
        model = model.fuse(verbose=False)
        model.model[-1].export = True
        save_pt2(model, _example(inputs), path)

    return build
