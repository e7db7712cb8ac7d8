"""JAX model files, detected by content: serialized `jax.export` artifacts and Flax checkpoints.

A `jax.export` artifact is a flatbuffer without a file identifier; it is recognised by its
structure: the root table's `mlir_module_serialized` vector (field 13) holds MLIR bytecode,
which starts with the magic `ML\\xefR`. Its calling-convention version and StableHLO version
are read before jax deserializes it, so an artifact from another jax is refused in one line.

A Flax checkpoint is `flax.serialization.to_bytes` output: a msgpack map whose leaves are
arrays (msgpack extension type 1). It holds weights only; `--model-class module:factory` builds
the model it is restored into. Reading either kind runs no code from the file.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from edge_kit.errors import ModelLoadError, UsageError
from edge_kit.models import jax_models
from edge_kit.models.jax_models import JaxSource
from edge_kit.models.sniff import Kind

MLIR_MAGIC = b"ML\xefR"
_MLIR_FIELD, _CALLING_CONVENTION_FIELD = 13, 14  # slots in serialization.fbs's `Exported` table
_STABLEHLO_VERSION = re.compile(rb"StableHLO_v(\d+)\.(\d+)\.(\d+)")
_MSGPACK_MAP = (*range(0x80, 0x90), 0xDE, 0xDF)
_NDARRAY_EXT = 1  # flax.serialization's msgpack extension code for an ndarray


def _u32(data: bytes, at: int) -> int:
    return int(struct.unpack_from("<I", data, at)[0])


def _field(data: bytes, slot: int) -> int | None:
    """Absolute offset of field `slot` of a flatbuffer's root table, or None (absent / not a flatbuffer)."""
    if len(data) < 16:
        return None
    root = _u32(data, 0)
    if not 4 <= root <= len(data) - 4:
        return None
    vtable = root - struct.unpack_from("<i", data, root)[0]
    if not 0 <= vtable <= len(data) - 4:
        return None
    vt_size = struct.unpack_from("<H", data, vtable)[0]
    entry = 4 + 2 * slot
    if vt_size % 2 or vt_size < 4 or vtable + vt_size > len(data) or entry + 2 > vt_size:
        return None
    offset = struct.unpack_from("<H", data, vtable + entry)[0]
    return root + offset if offset and root + offset <= len(data) - 4 else None


def mlir_module(data: bytes) -> bytes | None:
    """The MLIR bytecode of a serialized `jax.export` artifact, or None if `data` is not one."""
    at = _field(data, _MLIR_FIELD)
    if at is None:
        return None
    vector = at + _u32(data, at)
    if vector > len(data) - 4:
        return None
    start, size = vector + 4, _u32(data, vector)
    body = data[start : start + size]
    return body if size >= 4 and start + size <= len(data) and body.startswith(MLIR_MAGIC) else None


def calling_convention(data: bytes) -> int:
    at = _field(data, _CALLING_CONVENTION_FIELD)
    return int(struct.unpack_from("<H", data, at)[0]) if at is not None else 0


def is_flax_checkpoint(data: bytes) -> bool:
    """A msgpack map whose leaves include flax-serialized arrays (parsing runs no code)."""
    if not data or data[0] not in _MSGPACK_MAP:
        return False
    try:
        import msgpack
    except ImportError:
        return False
    found = []

    def ext(code: int, payload: bytes) -> Any:
        found.append(code)
        return None

    try:
        tree = msgpack.unpackb(data, raw=False, strict_map_key=False, ext_hook=ext)
    except Exception:  # noqa: BLE001 - msgpack raises assorted errors on data that is not msgpack
        return False
    return isinstance(tree, dict) and _NDARRAY_EXT in found


def sniff_jax(path: Path) -> Kind | None:
    """JAX_EXPORT or FLAX_CHECKPOINT when the file is one, else None (other kinds: `sniff`)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(16)
            if len(head) < 16 or (head[0] not in _MSGPACK_MAP and _u32(head, 0) > Path(path).stat().st_size):
                return None
            data = head + handle.read()
    except OSError:
        return None
    if mlir_module(data) is not None:
        return Kind.JAX_EXPORT
    return Kind.FLAX_CHECKPOINT if is_flax_checkpoint(data) else None


def _version_text(version: Sequence[int]) -> str:
    return ".".join(str(v) for v in version)


def _check_versions(data: bytes, path: Path) -> None:
    """Refuse an artifact whose calling convention or StableHLO version this jax cannot read."""
    import jax
    from jax._src.export import _export

    low, high = (
        _export.minimum_supported_calling_convention_version,
        _export.maximum_supported_calling_convention_version,
    )
    version = calling_convention(data)
    hint = f"export it again with jax {jax.__version__}, or load it with the jax that wrote it"
    if not low <= version <= high:
        raise ModelLoadError(
            f"{path.name} uses jax.export calling convention {version}; jax {jax.__version__} reads {low}-{high}",
            hint=hint,
        )
    found = _STABLEHLO_VERSION.search(mlir_module(data) or b"")
    current = _stablehlo_version()
    if found and current and tuple(int(v) for v in found.groups()) > current:
        raise ModelLoadError(
            f"{path.name} needs StableHLO {_version_text([int(v) for v in found.groups()])}; "
            f"jax {jax.__version__} reads up to {_version_text(current)}",
            hint=hint,
        )


def _stablehlo_version() -> tuple[int, ...] | None:
    try:
        from jax._src.lib.mlir.dialects import hlo

        return tuple(int(v) for v in hlo.get_current_version().split("."))
    except Exception:  # noqa: BLE001 - a private API: without it only the calling convention is checked
        return None


def load_jax_export(path: Path) -> JaxSource:
    """A serialized `jax.export` artifact, version-checked and deserialized."""
    import jax

    path = Path(path)
    data = path.read_bytes()
    if mlir_module(data) is None:
        raise ModelLoadError(f"{path.name} is not a serialized jax.export artifact")
    _check_versions(data, path)
    try:
        exported = jax.export.deserialize(bytearray(data))
        exported.mlir_module()  # parses the StableHLO now rather than at the first run
    except Exception as exc:  # noqa: BLE001 - flatbuffer / MLIR readers raise assorted errors
        raise ModelLoadError(
            f"jax {jax.__version__} cannot read {path.name}: {jax_models.first_line(exc, 160)}",
            hint="the file may be damaged or written by another jax version; export it again",
        ) from None
    if "cpu" not in exported.platforms:
        raise ModelLoadError(
            f"{path.name} was exported for {', '.join(exported.platforms)} only, not cpu",
            hint="export it with jax.export.export(fn, platforms=['cpu', ...])",
        )
    return jax_models.from_exported(exported, path)


def _factory_parts(result: Any, model_class: str) -> tuple[Any, Any, Any]:
    """(model, variables template, example inputs) from what a factory returned."""
    if jax_models.is_nnx(result):
        return result, None, None
    if isinstance(result, (tuple, list)) and len(result) in (2, 3):
        model, variables = result[0], result[1]
        if callable(variables) and not isinstance(variables, dict):
            variables = _abstract(variables, model_class)
        return model, variables, result[2] if len(result) == 3 else None
    raise UsageError(
        f"--model-class {model_class} returned a {type(result).__name__}",
        hint="return (flax module or apply_fn, variables or an init function[, example inputs]) or an NNX module",
    )


def _build(model_class: str) -> Any:
    """Call the --model-class factory; whatever it raises is the user's code failing, in one line."""
    from edge_kit.models.torch_models import _import_factory  # imports no torch; shared with the torch loader

    factory = _import_factory(model_class)
    try:
        return factory()
    except Exception as exc:  # noqa: BLE001 - user code may raise anything
        raise UsageError(
            f"--model-class {model_class} failed to build the model: {type(exc).__name__}: "
            f"{jax_models.first_line(exc, 160)}",
            hint="it must be callable with no arguments",
        ) from None


def _abstract(init: Any, model_class: str) -> Any:
    """The variables an init function would build, as shapes and dtypes only (nothing computed:
    restoring needs the structure, not the random values)."""
    import jax

    try:
        return jax.eval_shape(init)
    except Exception as exc:  # noqa: BLE001 - user code may raise anything
        raise UsageError(
            f"--model-class {model_class}: its init function failed: {type(exc).__name__}: "
            f"{jax_models.first_line(exc, 160)}"
        ) from None


def _mismatch(template: Any, restored: Any) -> str | None:
    """The first leaf whose shape or dtype differs between the factory's model and the checkpoint."""
    import jax
    import numpy as np

    for (key, want), got in zip(jax.tree_util.tree_leaves_with_path(template), jax.tree.leaves(restored)):
        want_shape, got_shape = tuple(np.shape(want)), tuple(np.shape(got))
        want_dtype = np.dtype(want.dtype) if hasattr(want, "dtype") else np.asarray(want).dtype
        got_dtype = np.asarray(got).dtype
        if want_shape != got_shape or want_dtype != got_dtype:
            where = jax.tree_util.keystr(key, simple=True, separator="/")
            return f"{where} is {got_dtype}{list(got_shape)} in the file, {want_dtype}{list(want_shape)} in the model"
    return None


def _restore(template: Any, data: bytes, path: Path, model_class: str) -> Any:
    import flax.serialization
    import jax

    if len(jax.tree.leaves(template)) == 0:
        raise UsageError(f"--model-class {model_class} built a model without variables to restore")
    try:
        restored = flax.serialization.from_bytes(template, data)
    except ValueError as exc:
        raise ModelLoadError(
            f"{path.name} does not fit {model_class}: {jax_models.first_line(exc, 200)}",
            hint="use the factory that built the checkpointed model",
        ) from None
    except Exception as exc:  # noqa: BLE001 - msgpack raises assorted errors on damaged data
        raise ModelLoadError(f"{path.name} is a damaged Flax checkpoint: {jax_models.first_line(exc, 160)}") from None
    problem = _mismatch(template, restored)
    if problem:
        raise ModelLoadError(
            f"{path.name} does not fit {model_class}: {problem}",
            hint="use the factory that built the checkpointed model",
        )
    return restored


def load_flax_checkpoint(path: Path, model_class: str | None) -> JaxSource:
    """A Flax msgpack checkpoint restored into the structure `module:factory` builds."""
    path = Path(path)
    if model_class is None:
        raise UsageError(
            f"{path.name} is a Flax checkpoint: it holds weights only",
            hint="pass --model-class module:factory returning (module, variables or init function)",
        )
    model, template, example = _factory_parts(_build(model_class), model_class)
    data = path.read_bytes()
    if jax_models.is_nnx(model):
        from flax import nnx

        state = nnx.state(model)
        nnx.replace_by_pure_dict(state, _restore(nnx.to_pure_dict(state), data, path, model_class))
        nnx.update(model, state)
        return _named(jax_models.from_flax(model, None, example), path)
    variables = _restore(template, data, path, model_class)
    if jax_models.is_linen(model):
        return _named(jax_models.from_flax(model, variables, example), path)
    return _named(jax_models.from_function(model, variables, example), path)


def _named(source: JaxSource, path: Path) -> JaxSource:
    source.path, source.kind = path, Kind.FLAX_CHECKPOINT
    return source


def load_jax(
    path: Path,
    kind: Kind | None = None,
    *,
    model_class: str | None = None,
    input_shapes: Sequence[tuple[int, ...]] = (),
    input_dtypes: Sequence[str] = (),
) -> JaxSource:
    """Load a JAX file (sniffed when `kind` is None) and resolve its concrete inputs."""
    kind = kind or sniff_jax(Path(path))
    if kind is Kind.JAX_EXPORT:
        source = load_jax_export(path)
    elif kind is Kind.FLAX_CHECKPOINT:
        source = load_flax_checkpoint(path, model_class)
    else:
        raise ModelLoadError(f"{Path(path).name} is neither a jax.export artifact nor a Flax checkpoint")
    return source.resolve(input_shapes, input_dtypes)


def _detects(kind: Kind) -> Any:
    return lambda path: sniff_jax(Path(path)) is kind


def register(registry: Any) -> None:
    from edge_kit.models.jax_models import accepts, wrap
    from edge_kit.registry import SourceType

    registry.add_source(
        SourceType(
            Kind.JAX_EXPORT.value,
            "jax",
            "jax.export artifact (serialized)",
            load=lambda path, options: load_jax(path, Kind.JAX_EXPORT),
            detect=_detects(Kind.JAX_EXPORT),
        )
    )
    registry.add_source(
        SourceType(
            Kind.FLAX_CHECKPOINT.value,
            "jax",
            "Flax checkpoint (msgpack) + --model-class module:factory",
            load=lambda path, options: load_jax(path, Kind.FLAX_CHECKPOINT, model_class=options.model_class),
            detect=_detects(Kind.FLAX_CHECKPOINT),
        )
    )
    registry.add_source(
        SourceType(
            Kind.JAX_FUNCTION.value,
            "jax",
            "a JAX function with params=, a Flax Linen/NNX module or a jax.export.Exported (Python API)",
            accepts=accepts,
            wrap=wrap,
        )
    )
