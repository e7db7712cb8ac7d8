"""Embed the metadata JSON into a `.tflite` file as a named metadata buffer.

TFLite models carry `metadata: [{name, buffer}]` entries (the converter itself writes
`min_runtime_version` there). The TFLite Support "TFLITE_METADATA" flatbuffer needs
tflite-support's metadata writers, which are unmaintained and need numpy<2; so the
JSON document goes into an entry of its own, `edgekit_metadata`, written with the
LiteRT schema and flatbuffer tools that ship in the pinned ai-edge-litert. Runtimes
ignore metadata entries; the embedded model is checked to give bit-identical outputs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_kit.errors import ExportError

METADATA_NAME = "edgekit_metadata"


def _tools() -> tuple[Any, Any]:
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    return schema, flatbuffer_utils


def embed(model: bytes, document: bytes) -> bytes:
    """`model` with `document` stored under the metadata name `edgekit_metadata` (replacing any)."""
    schema, fbu = _tools()
    try:
        obj = fbu.read_model_from_bytearray(bytearray(model))
        buffer = schema.BufferT()
        buffer.data = np.frombuffer(document, dtype=np.uint8)
        obj.buffers.append(buffer)
        obj.metadata = [m for m in (obj.metadata or []) if m.name != METADATA_NAME.encode()]
        entry = schema.MetadataT()
        entry.name, entry.buffer = METADATA_NAME.encode(), len(obj.buffers) - 1
        obj.metadata.append(entry)
        return bytes(fbu.convert_object_to_bytearray(obj))
    except Exception as exc:
        raise ExportError(
            f"cannot embed the metadata into the TFLite model: {type(exc).__name__}: {str(exc)[:160]}",
            hint="rerun with --debug",
        ) from exc


def read(model: bytes) -> bytes | None:
    """The embedded metadata document, or None."""
    _schema, fbu = _tools()
    obj = fbu.read_model_from_bytearray(bytearray(model))
    for entry in obj.metadata or []:
        if entry.name == METADATA_NAME.encode():
            return bytes(np.asarray(obj.buffers[entry.buffer].data, dtype=np.uint8).tobytes())
    return None


def _run(model: bytes, seed: int = 0) -> list[np.ndarray]:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=model, num_threads=1)
    interpreter.allocate_tensors()
    rng = np.random.default_rng(seed)
    for detail in interpreter.get_input_details():
        dtype = np.dtype(detail["dtype"])
        if dtype.kind == "f":
            value = rng.random(detail["shape"]).astype(dtype)
        elif dtype.kind in "iu":
            info = np.iinfo(dtype)
            value = rng.integers(max(info.min, -128), min(info.max, 127), detail["shape"], endpoint=True).astype(dtype)
        else:
            value = np.zeros(detail["shape"], dtype)
        interpreter.set_tensor(detail["index"], value)
    interpreter.invoke()
    return [interpreter.get_tensor(d["index"]).copy() for d in interpreter.get_output_details()]


def check_same_outputs(original: bytes, embedded: bytes) -> None:
    """The embedded model must load and give bit-identical outputs to the original."""
    from edge_kit.exporters.quiet import quiet_fds

    with quiet_fds():
        before, after = _run(original), _run(embedded)
    if len(before) != len(after) or not all(np.array_equal(a, b) for a, b in zip(before, after)):
        raise ExportError(
            "the TFLite model with embedded metadata gives different outputs", hint="report it; rerun with --debug"
        )
