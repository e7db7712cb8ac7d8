"""Shared helpers for the sample-model training scripts: seeding, training, saving."""

from __future__ import annotations

import io
import json
import random
import warnings
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

SEED = 0
THREADS = 2
CALIB_SIZE = 200


def seed_everything(seed: int = SEED) -> None:
    """Fix python, numpy and torch seeds and torch's thread count."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(THREADS)
    torch.use_deterministic_algorithms(True)


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters for :func:`train_classifier`."""

    epochs: int
    lr: float = 3e-3
    batch_size: int = 64
    weight_decay: float = 1e-4
    noise_std: float = 0.0  # Gaussian input noise during training (robustness)


def train_classifier(model: nn.Module, x: np.ndarray, y: np.ndarray, cfg: TrainConfig, seed: int = SEED) -> nn.Module:
    """Train with Adam + cross-entropy and seeded shuffling; returns the model in eval mode."""
    gen = torch.Generator().manual_seed(seed)
    xs, ys = torch.from_numpy(x), torch.from_numpy(y)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    for _ in range(cfg.epochs):
        order = torch.randperm(len(xs), generator=gen)
        for start in range(0, len(xs), cfg.batch_size):
            idx = order[start : start + cfg.batch_size]
            batch = xs[idx]
            if cfg.noise_std:
                batch = batch + cfg.noise_std * torch.randn(batch.shape, generator=gen)
            opt.zero_grad()
            loss_fn(model(batch), ys[idx]).backward()
            opt.step()
        sched.step()
    return model.eval()


@torch.no_grad()
def predict(model: nn.Module, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Logits of ``model`` on ``x`` as a float32 array."""
    outs = [model(torch.from_numpy(x[i : i + batch_size])) for i in range(0, len(x), batch_size)]
    return torch.cat(outs).numpy()


def accuracy(logits: np.ndarray, y: np.ndarray) -> float:
    """Top-1 accuracy of ``logits`` against integer labels ``y``."""
    return float((logits.argmax(axis=1) == y).mean())


def calib_indices(n_train: int, size: int = CALIB_SIZE, seed: int = SEED) -> np.ndarray:
    """Deterministic, sorted choice of ``size`` training-set positions for calibration."""
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_train, size=min(size, n_train), replace=False))


@contextmanager
def quiet_torchscript() -> Iterator[None]:
    """Silence torch.jit's deprecation warnings (TorchScript is still a target format)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, message=r".*torch\.jit")
        yield


def save_torch_artifacts(
    model: nn.Module, example: torch.Tensor, out_dir: Path, stem: str, state_dict: bool = False
) -> list[Path]:
    """Write ``<stem>.pt`` (traced TorchScript), ``<stem>.pt2`` (ExportedProgram) and
    optionally ``<stem>_state.pt``; returns the written paths."""
    model = model.eval()
    paths = [out_dir / f"{stem}.pt", out_dir / f"{stem}.pt2"]
    # The input signature travels inside the TorchScript archive (edgekit reads this extra file).
    signature = json.dumps([{"name": "x", "shape": list(example.shape), "dtype": "float32"}])
    with torch.no_grad(), quiet_torchscript():
        torch.jit.save(torch.jit.trace(model, example), str(paths[0]), _extra_files={"edgekit_inputs.json": signature})
    torch.export.save(torch.export.export(model, (example,)), paths[1])
    if state_dict:
        paths.append(out_dir / f"{stem}_state.pt")
        torch.save(model.state_dict(), paths[-1])
    return paths


def write_stable_zip(path: Path, entries: dict[str, bytes]) -> Path:
    """Write a deflated zip with fixed timestamps: the same entries always give the same bytes."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data, compresslevel=9)
    return path


def save_npz(path: Path, **arrays: np.ndarray) -> Path:
    """Write a compressed ``.npz`` with stable bytes (``np.savez_compressed`` stamps the time)."""
    entries = {}
    for key, arr in arrays.items():
        buf = io.BytesIO()
        np.lib.format.write_array(buf, np.ascontiguousarray(arr), allow_pickle=False)
        entries[f"{key}.npy"] = buf.getvalue()
    return write_stable_zip(path, entries)


def report(name: str, metrics: dict[str, float], paths: list[Path]) -> None:
    """Print what a training script measured and wrote."""
    figures = ", ".join(f"{k}={v:.4f}" for k, v in metrics.items())
    print(f"[{name}] {figures}")
    for p in paths:
        print(f"  {p.name}: {p.stat().st_size} bytes")
