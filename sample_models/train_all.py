"""Regenerate every checked-in sample file (deterministic; about 1.5 min on 2 CPU cores).

    python -m sample_models [--out DIR]      # same as python -m sample_models.train_all

Each trainer runs in its own interpreter, exactly as when it is run alone: TensorFlow
(imported for the Keras twin) then cannot slow torch down, and TorchScript files, whose
debug info records the tracing call stack, come out byte-identical either way.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from . import SAMPLE_DIR

TRAINERS = ("train_digits", "train_digits_flax", "train_mnist", "train_sensor")


def train_all(out_dir: Path = SAMPLE_DIR) -> None:
    """Run every trainer, writing into ``out_dir``; raises CalledProcessError if one fails."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for trainer in TRAINERS:
        subprocess.run(
            [sys.executable, "-m", f"{__package__}.{trainer}", "--out", str(out_dir.resolve())],
            cwd=SAMPLE_DIR.parent,
            check=True,
            timeout=900,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=SAMPLE_DIR, help="output folder")
    train_all(parser.parse_args().out)


if __name__ == "__main__":
    main()
