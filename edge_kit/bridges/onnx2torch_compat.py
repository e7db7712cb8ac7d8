"""onnx2torch made usable beside torch 2.13 and `torch.export`.

Two things, both applied once by `load_onnx2torch()`:

- **torchvision.** onnx2torch imports torchvision at module level for two converters only
  (NonMaxSuppression: `torchvision.ops.nms`/`box_convert`; RoiAlign: `torchvision.ops.roi_align`).
  PyPI's torchvision for torch 2.13 is a CUDA-linked build that fails at import beside the CPU
  torch ("operator torchvision::nms does not exist"). When torchvision is absent or fails to
  import, a stand-in module exists in `sys.modules` only while onnx2torch is imported; its three
  functions raise when *called*, so a model using those two ops converts, then fails at
  `torch.export` with the node named (see `onnx_to_torch`). No other code sees the stand-in.
- **Static shape arguments.** onnx2torch passes shape-like inputs (Reshape's shape, Resize's
  scales/sizes) to its modules as tensors and reads their values at run time (`.tolist()`,
  `torch.any(shape == 0)`), which `torch.export` rejects as data-dependent guards. After graph
  clean-up those inputs are initializers; the converters registered here read them at conversion
  time and build modules with Python constants, falling back to onnx2torch's own converter when
  an input really is computed.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import sys
import types
from collections.abc import Callable, Iterator
from typing import Any

_LOADED: Any = None
# onnx2torch's own converters for the ops overridden here, keyed by (op_type, version).
_ORIGINALS: dict[tuple[str, int], Callable[..., Any] | None] = {}


def _unavailable(op: str) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{op} needs torchvision, which cannot be imported beside this torch")

    return call


def _stub_torchvision() -> types.ModuleType:
    """A `torchvision` with only the three `ops` functions onnx2torch imports, each raising on use."""
    package = types.ModuleType("torchvision")
    ops = types.ModuleType("torchvision.ops")
    ops.nms = _unavailable("NonMaxSuppression (torchvision.ops.nms)")  # type: ignore[attr-defined]
    ops.box_convert = _unavailable("NonMaxSuppression (torchvision.ops.box_convert)")  # type: ignore[attr-defined]
    ops.roi_align = _unavailable("RoiAlign (torchvision.ops.roi_align)")  # type: ignore[attr-defined]
    package.ops = ops  # type: ignore[attr-defined]
    package.__path__ = []  # a package, so `from torchvision.ops import x` resolves through sys.modules
    return package


def _real_torchvision_works() -> bool:
    if "torchvision" in sys.modules:
        return True
    if importlib.util.find_spec("torchvision") is None:
        return False
    try:
        importlib.import_module("torchvision")
        return True
    except Exception:  # noqa: BLE001 - a broken CUDA-linked build raises RuntimeError/OSError/ImportError
        for name in [n for n in sys.modules if n == "torchvision" or n.startswith("torchvision.")]:
            del sys.modules[name]
        return False


@contextlib.contextmanager
def _torchvision_for_import() -> Iterator[None]:
    """Provide the stand-in torchvision while the block imports onnx2torch, then remove it."""
    if _real_torchvision_works():
        yield
        return
    stub = _stub_torchvision()
    sys.modules["torchvision"], sys.modules["torchvision.ops"] = stub, stub.ops  # type: ignore[attr-defined]
    try:
        yield
    finally:
        for name in ("torchvision", "torchvision.ops"):
            if sys.modules.get(name) in (stub, stub.ops):  # type: ignore[attr-defined]
                del sys.modules[name]


def load_onnx2torch() -> Any:
    """Import onnx2torch (torchvision stand-in if needed) and register edgekit's converters once."""
    global _LOADED
    if _LOADED is None:
        with _torchvision_for_import():
            import onnx2torch
        _register_overrides()
        _LOADED = onnx2torch
    return _LOADED


def _override(op_type: str, versions: tuple[int, ...]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register `fn(node, graph, original)` for `op_type` in onnx2torch's registry, in place of its own
    converter (kept as `original`, None for versions onnx2torch lacks). onnx2torch's `add_converter` refuses a second registration, so the
    existing entry is taken out of the registry first."""
    from onnx import defs
    from onnx2torch.node_converters.registry import _CONVERTER_REGISTRY, OperationDescription, add_converter

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        for version in versions:
            key = OperationDescription(domain=defs.ONNX_DOMAIN, operation_type=op_type, version=version)
            original = _ORIGINALS.setdefault((op_type, version), _CONVERTER_REGISTRY.pop(key, None))

            def converter(node: Any, graph: Any, _original: Callable[..., Any] | None = original) -> Any:
                return fn(node, graph, _original)

            add_converter(op_type, version)(converter)
        return fn

    return deco


def _register_overrides() -> None:
    from edge_kit.bridges import recurrent_ops, reduce_pad_ops, static_ops

    _override("Reshape", (5, 13, 14, 19, 21))(static_ops.convert_reshape)
    _override("Resize", (11, 13, 18, 19))(static_ops.convert_resize)
    _override("Slice", (10, 11, 13))(static_ops.convert_slice)
    _override("Split", (13, 18))(static_ops.convert_split)
    _override("Gather", (1, 11, 13))(static_ops.convert_gather)
    _override("DepthToSpace", (1, 11, 13))(static_ops.convert_depth_to_space)
    for op_type in ("Squeeze", "Unsqueeze"):
        _override(op_type, (13, 21, 23, 24, 25))(static_ops.convert_squeeze)
    for op_type in ("Add", "Sub", "Mul", "Div"):
        _override(op_type, (7, 13, 14))(static_ops.convert_binary)
    _override("Pow", (7, 12, 13, 15))(static_ops.convert_binary)
    for op_type, versions in reduce_pad_ops.REDUCE_VERSIONS.items():
        _override(op_type, versions)(reduce_pad_ops.convert_reduce)
    _override("Pad", reduce_pad_ops.PAD_VERSIONS)(reduce_pad_ops.convert_pad)
    _override("LSTM", recurrent_ops.LSTM_VERSIONS)(recurrent_ops.convert_lstm)
