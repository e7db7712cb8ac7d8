"""Four small ExecuTorch programs that exercise different runtime paths.

(a) fp32 lowered to XNNPACK, (b) PT2E int8 static per-channel lowered to XNNPACK,
(c) fp32 with no delegate (portable/optimized kernels only), (d) XNNPACK plus an
op XNNPACK does not take (cumsum), which falls back to the portable kernels.
`export_all(folder)` writes `<name>.pte`, `<name>.input.npy`, `<name>.ref.npy`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SHAPE = (1, 3, 32, 32)
NAMES = ("xnnpack_fp32", "xnnpack_int8", "portable_fp32", "mixed_fp32")


def _net(fallback: bool):  # -> torch.nn.Module
    import torch

    class SmallCNN(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = torch.nn.Conv2d(3, 8, 3, padding=1)
            self.conv2 = torch.nn.Conv2d(8, 16, 3, stride=2, padding=1)
            self.pool = torch.nn.AdaptiveAvgPool2d(1)
            self.fc = torch.nn.Linear(16, 10)

        def forward(self, x):
            x = torch.relu(self.conv1(x))
            x = torch.relu(self.conv2(x))
            x = self.fc(torch.flatten(self.pool(x), 1))
            return torch.cumsum(x, dim=1) if fallback else x

    torch.manual_seed(0)
    return SmallCNN().eval()


def _lower(exported, delegate: bool) -> bytes:
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    partitioner = [XnnpackPartitioner()] if delegate else []
    return to_edge_transform_and_lower(exported, partitioner=partitioner).to_executorch().buffer


def _int8(model, example):  # -> torch.export.ExportedProgram
    import torch
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
        XNNPACKQuantizer,
        get_symmetric_quantization_config,
    )
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    quantizer = XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True))
    prepared = prepare_pt2e(torch.export.export(model, example).module(), quantizer)
    rng = np.random.default_rng(1)
    for _ in range(8):
        prepared(torch.from_numpy(rng.standard_normal(SHAPE).astype(np.float32)))
    return torch.export.export(convert_pt2e(prepared), example)


def export_one(name: str, folder: Path) -> Path:
    """Export program `name` into `folder`; return the `.pte` path."""
    import torch

    x = np.random.default_rng(0).standard_normal(SHAPE).astype(np.float32)
    example = (torch.from_numpy(x),)
    model = _net(fallback=name == "mixed_fp32")
    if name == "xnnpack_int8":
        exported = _int8(model, example)
        reference = exported.module()(*example)
    else:
        exported = torch.export.export(model, example)
        reference = model(*example)
    data = _lower(exported, delegate=name != "portable_fp32")
    pte = folder / f"{name}.pte"
    pte.write_bytes(data)
    np.save(folder / f"{name}.input.npy", x)
    np.save(folder / f"{name}.ref.npy", reference.detach().numpy())
    return pte


def export_all(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return {name: export_one(name, folder) for name in NAMES}


if __name__ == "__main__":
    import sys

    print(export_all(Path(sys.argv[1])))
