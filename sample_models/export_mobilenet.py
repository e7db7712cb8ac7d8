"""Export MobileNetV2 with its real ImageNet weights, plus real photos to run it on.

    python -m sample_models.export_mobilenet OUT_DIR [--augment]

Writes ``mobilenet_v2.pt2`` (ExportedProgram, input 1 x 3 x 224 x 224 float32) and
``mobilenet_v2_eval.npz`` (array ``x``: N x 3 x 224 x 224, no labels; 22 photos, or 66 with
``--augment``). Not checked in: the weights alone are 14 MB. Takes a few seconds.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from ._common import save_npz
from .mobilenet import load_photos, mobilenet_v2

INPUT_SHAPE = (1, 3, 224, 224)


def export_mobilenet_v2(out_dir: Path, augment: bool = False) -> tuple[Path, Path]:
    """Write ``mobilenet_v2.pt2`` and ``mobilenet_v2_eval.npz`` into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    program = out_dir / "mobilenet_v2.pt2"
    torch.export.save(torch.export.export(mobilenet_v2(pretrained=True), (torch.zeros(INPUT_SHAPE),)), program)
    data = save_npz(out_dir / "mobilenet_v2_eval.npz", x=load_photos(augment=augment))
    return program, data


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path, help="output folder (not the repository)")
    parser.add_argument(
        "--augment", action="store_true", help="add a mirrored and a zoomed view of each photo (66 rows)"
    )
    args = parser.parse_args()
    for path in export_mobilenet_v2(args.out_dir, args.augment):
        print(f"{path}: {path.stat().st_size} bytes")
