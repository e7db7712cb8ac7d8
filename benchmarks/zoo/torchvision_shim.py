"""torchvision for timm and ultralytics beside the CPU build of torch 2.13, without touching the venv.

The problem: the torchvision release paired with torch 2.13.0 (0.28.0, which pins torch==2.13.0)
is a CUDA build on PyPI. Its C extension `_C.so` links libtorch_cuda / libc10_cuda, which the CPU
torch lacks. torchvision's loader tolerates that (`extension._has_ops()` becomes False), but
`torchvision/_meta_registrations.py` then calls `torch.library.register_fake("torchvision::nms")`
(and `qnms`) unconditionally, for operators only `_C.so` defines, and `import torchvision` dies
with `RuntimeError: operator torchvision::nms does not exist`. Anything that imports torchvision
dies with it: timm, ultralytics, onnx2torch, and transformers modules that import it when they
find it (`from transformers import WhisperModel` does).

The fix, in two parts:
1. torchvision is NOT installed into the venv's site-packages, but into a folder of its own
   (`pip install --no-deps --target .venv/zoo-torchvision torchvision==0.28.0`; another folder via
   $EDGEKIT_ZOO_TORCHVISION). Nothing outside the zoo can see it, so edgekit, transformers and torch
   behave exactly as in a venv without torchvision.
2. `ensure_torchvision()` (called by the zoo builders before importing timm/ultralytics) puts that
   folder on sys.path and, when the C extension cannot load, DEFINES the two operator schemas
   `_C.so` would have defined (same signatures as torchvision/csrc/ops/nms.cpp) with the public
   `torch.library` API, so torchvision's fake registrations find them. No monkeypatching, no edits
   in site-packages, no import hooks.

What works then: all of torchvision's pure-Python parts (models, transforms, ops.misc, box utils).
What does not: its C++ operators (`torchvision.ops.nms`, `roi_align`, `deform_conv2d`, image
decoding) raise torchvision's own "Couldn't load custom C++ ops" error. The zoo runs only the
models' forward passes, which use none of them (ultralytics calls nms in `predict`
post-processing only). Exported `.pt2` files contain aten ops only, so edgekit never needs
torchvision to read them.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

# The schemas torchvision's C extension registers; only these two have unconditional fake
# registrations in torchvision/_meta_registrations.py (the others check _has_ops() first).
SCHEMAS = {
    "nms": "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms": "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
}
_library = None  # keeps the torch.library fragment alive (dropping it would undefine the ops)


def torchvision_dir() -> Path:
    """Where the zoo's torchvision is installed (`pip install --no-deps --target DIR torchvision==0.28.0`)."""
    return Path(os.environ.get("EDGEKIT_ZOO_TORCHVISION") or Path(sys.prefix) / "zoo-torchvision")


def ensure_torchvision() -> ModuleType:
    """Import torchvision (from its own folder), defining the missing operator schemas first when
    its C extension cannot load. Idempotent; raises ModuleNotFoundError naming the install line."""
    global _library
    if "torchvision" in sys.modules:
        return sys.modules["torchvision"]
    folder = torchvision_dir()
    if folder.is_dir() and str(folder) not in sys.path:
        sys.path.append(str(folder))
    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f"torchvision is not installed in {folder}: pip install --no-deps --target {folder} torchvision==0.28.0"
        )
    import torch

    if not _extension_loads(Path(next(iter(spec.submodule_search_locations)))):
        _library = torch.library.Library("torchvision", "FRAGMENT")
        for name, schema in SCHEMAS.items():
            if not _defined(name):
                _library.define(schema)
    import torchvision

    return torchvision


def _defined(name: str) -> bool:
    """Whether the dispatcher already knows `torchvision::<name>`."""
    import torch

    try:
        torch._C._dispatch_has_kernel_for_dispatch_key(f"torchvision::{name}", "Meta")
    except RuntimeError:
        return False
    return True


def _extension_loads(package: Path) -> bool:
    """Load torchvision's C extension the way torchvision does; True when it loads (then it
    defines the real operators and nothing is needed)."""
    import torch

    library = next(package.glob("_C*.so"), None)
    if library is None:
        return False
    try:
        torch.ops.load_library(str(library))
    except (ImportError, OSError):
        return False
    return True
