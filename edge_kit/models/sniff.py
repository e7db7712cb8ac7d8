"""Detect what a model file is from its content, not its extension alone.

Cheap and import-light (no torch/TensorFlow): reads magic bytes and zip listings.
ONNX has no magic number, so it is recognised by parsing the protobuf (onnx import).
"""

from __future__ import annotations

import zipfile
from enum import Enum
from pathlib import Path, PurePosixPath

from edge_kit.errors import ModelLoadError, TrustError

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


class Kind(str, Enum):
    """What a model file holds."""

    TORCHSCRIPT = "torchscript"
    EXPORTED_PROGRAM = "exported_program"
    TORCH_PICKLE = "torch_pickle"  # torch.save: a state_dict or a full pickled module
    KERAS = "keras"
    KERAS_H5 = "keras_h5"
    SAVED_MODEL = "saved_model"
    ONNX = "onnx"
    TFLITE = "tflite"
    EXECUTORCH = "executorch"
    TORCHSCRIPT_LITE = "torchscript_lite"
    TORCH_MODULE = "torch_module"  # a live nn.Module handed to the Python API (no file)
    JAX_EXPORT = "jax_export"  # a serialized jax.export artifact (detected by edge_kit.models.jax_files)
    FLAX_CHECKPOINT = "flax_checkpoint"  # flax.serialization msgpack bytes (+ a module:factory)
    JAX_FUNCTION = "jax_function"  # an in-memory JAX function or Flax module (Python API)


SOURCE_KINDS = (
    Kind.TFLITE,  # someone else's .tflite, to ONNX
    Kind.TORCHSCRIPT,
    Kind.EXPORTED_PROGRAM,
    Kind.TORCH_PICKLE,
    Kind.KERAS,
    Kind.KERAS_H5,
    Kind.SAVED_MODEL,
    Kind.ONNX,
)


def check_zip_entries(names: list[str], path: Path) -> None:
    """Refuse archives with absolute paths or entries escaping the archive root."""
    for name in names:
        pure = PurePosixPath(name.replace("\\", "/"))
        if pure.is_absolute() or ".." in pure.parts or (len(name) > 1 and name[1] == ":"):
            raise TrustError(
                f"{path.name} contains an archive entry escaping its root ('{name[:60]}')",
                hint="the file is malformed or malicious; re-export it from its source",
            )


def _zip_kind(path: Path) -> Kind:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ModelLoadError(
            f"{path.name} is a damaged zip archive ({exc})",
            hint="the file may be truncated; export or download it again",
        ) from None
    check_zip_entries(names, path)
    tails = {"/".join(n.split("/")[1:]) for n in names}
    if "config.json" in names and any(n.endswith(".weights.h5") for n in names):
        return Kind.KERAS
    if "archive_format" in tails or any(t.startswith("models/") and t.endswith(".json") for t in tails):
        return Kind.EXPORTED_PROGRAM
    if "bytecode.pkl" in tails:
        return Kind.TORCHSCRIPT_LITE
    if any(t.startswith("code/") for t in tails) and "constants.pkl" in tails:
        return Kind.TORCHSCRIPT
    if "data.pkl" in tails:
        return Kind.TORCH_PICKLE
    raise ModelLoadError(
        f"{path.name} is a zip archive but not a model edgekit recognises",
        hint="expected TorchScript, ExportedProgram (.pt2), torch.save or .keras",
    )


def is_onnx(path: Path) -> bool:
    import onnx
    from google.protobuf.message import DecodeError

    try:
        model = onnx.load_model(str(path), load_external_data=False)
    except (DecodeError, ValueError, RuntimeError, OSError, UnicodeDecodeError, TypeError):
        return False
    except Exception:  # noqa: BLE001 - protobuf raises assorted internal errors on garbage
        return False
    return model.ir_version > 0 and len(model.graph.node) > 0 and bool(model.opset_import)


def sniff(path: Path) -> Kind:
    """The kind of model at `path`, or a ModelLoadError saying why it is none."""
    path = Path(path)
    try:
        exists, is_dir = path.exists(), path.is_dir()
    except OSError as exc:  # a name too long, a loop of links, a folder we may not search
        raise ModelLoadError(f"cannot open model file {_short(path)}: {exc.strerror}", hint="check the path") from None
    if not exists:
        raise ModelLoadError(f"model file {_short(path)} does not exist", hint="check the path")
    if is_dir:
        if (path / "saved_model.pb").is_file() or (path / "saved_model.pbtxt").is_file():
            return Kind.SAVED_MODEL
        raise ModelLoadError(
            f"{path} is a folder but not a TensorFlow SavedModel (no saved_model.pb)",
            hint="pass a model file or a SavedModel folder",
        )
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            head = handle.read(16)
    except OSError as exc:
        raise ModelLoadError(f"cannot read {path}: {exc.strerror}") from None
    if size == 0:
        raise ModelLoadError(f"{path.name} is empty (0 bytes)", hint="export or download it again")
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return _zip_kind(path)
    if head.startswith(HDF5_MAGIC):
        return Kind.KERAS_H5
    if head[4:8] == b"TFL3":
        return Kind.TFLITE
    if head[4:6] == b"ET" and head[6:8].isdigit():
        return Kind.EXECUTORCH
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return Kind.TORCH_PICKLE  # legacy (non-zip) torch.save
    if is_onnx(path):
        return Kind.ONNX
    what = "text" if _looks_like_text(head) else "data"
    raise ModelLoadError(
        f"{path.name} is not a model edgekit recognises (it looks like {what})",
        hint="supported: TorchScript/ExportedProgram .pt/.pt2, torch state_dict + "
        "--model-class, Keras .keras/.h5, SavedModel folder, .onnx",
    )


def _short(path: Path, limit: int = 120) -> str:
    """A path for a message: long ones keep their start and their file name."""
    text = str(path)
    return text if len(text) <= limit else f"{text[:40]}...{text[-(limit - 43) :]}"


def _looks_like_text(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(32 <= b < 127 or b in (9, 10, 13) for b in head)
