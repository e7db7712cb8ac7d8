"""Run ExecuTorch `.pte` programs through libedgekit_et.so with ctypes.

Runs inside emulated guests under a bare python3: stdlib + numpy only, no
edge_kit imports. The shared library is built by edge_kit.emulation.etruntime
(its C API is documented in edge_kit/emulation/et_shim.cpp).

    model = EtModel("/rt/libedgekit_et.so", "model.pte", num_threads=1)
    outputs = model.run([np.zeros(model.input_specs()[0]["shape"], np.float32)])
"""

from __future__ import annotations

import ctypes
import os
import struct
from typing import Any

import numpy as np

MAX_DIMS = 16
PROFILE_MODES = {"off": 0, "events": 1, "etdump": 2}

# ExecuTorch ScalarType codes -> numpy dtypes (runtime/core/portable_type/scalar_type.h).
SCALAR_TYPES: dict[int, Any] = {
    0: np.uint8,
    1: np.int8,
    2: np.int16,
    3: np.int32,
    4: np.int64,
    5: np.float16,
    6: np.float32,
    7: np.float64,
    11: np.bool_,
    12: np.int8,
    13: np.uint8,
    14: np.int32,
    27: np.uint16,
    28: np.uint32,
    29: np.uint64,
}


class EtError(RuntimeError):
    """The ExecuTorch runtime refused the program or failed while running it."""


_c = ctypes
_i64p = _c.POINTER(_c.c_int64)
_SIGNATURES: dict[str, tuple[Any, list[Any]]] = {
    "et_version": (_c.c_char_p, []),
    "et_last_error": (_c.c_char_p, []),
    "et_error": (_c.c_char_p, [_c.c_void_p]),
    "et_thread_count": (_c.c_int, []),
    "et_load": (_c.c_void_p, [_c.c_char_p, _c.c_int, _c.c_int]),
    "et_free": (None, [_c.c_void_p]),
    "et_num_inputs": (_c.c_int, [_c.c_void_p]),
    "et_num_outputs": (_c.c_int, [_c.c_void_p]),
    "et_input_meta": (_c.c_int, [_c.c_void_p, _c.c_int, _c.POINTER(_c.c_int), _c.POINTER(_c.c_int), _i64p, _c.c_int]),
    "et_output_meta": (_c.c_int, [_c.c_void_p, _c.c_int, _c.POINTER(_c.c_int), _c.POINTER(_c.c_int), _i64p, _c.c_int]),
    "et_io_name": (_c.c_char_p, [_c.c_void_p, _c.c_int, _c.c_int]),
    "et_set_input": (_c.c_int, [_c.c_void_p, _c.c_int, _c.c_void_p, _c.c_size_t]),
    "et_run": (_c.c_int, [_c.c_void_p]),
    "et_get_output": (_c.c_int, [_c.c_void_p, _c.c_int, _c.c_void_p, _c.c_size_t]),
    "et_memory_info": (_c.c_int, [_c.c_void_p, _i64p, _c.c_int, _i64p]),
    "et_num_backends": (_c.c_int, [_c.c_void_p]),
    "et_backend_name": (_c.c_char_p, [_c.c_void_p, _c.c_int]),
    "et_profile_count": (_c.c_int, [_c.c_void_p]),
    "et_profile_event": (
        _c.c_int,
        [
            _c.c_void_p,
            _c.c_int,
            _c.POINTER(_c.c_char_p),
            _c.POINTER(_c.c_int),
            _c.POINTER(_c.c_int),
            _i64p,
            _c.POINTER(_c.c_double),
            _c.POINTER(_c.c_double),
        ],
    ),
    "et_write_etdump": (_c.c_int, [_c.c_void_p, _c.c_char_p]),
}
# Present in newer builds of the shim only (older cached runtimes lack them).
_OPTIONAL: dict[str, tuple[Any, list[Any]]] = {
    "et_set_input_shaped": (_c.c_int, [_c.c_void_p, _c.c_int, _c.c_void_p, _c.c_size_t, _c.c_int, _i64p]),
    "et_load_method": (_c.c_void_p, [_c.c_char_p, _c.c_char_p, _c.c_int, _c.c_int]),
}
_LIBS: dict[str, ctypes.CDLL] = {}


def load_library(lib_path: str) -> ctypes.CDLL:
    """Open libedgekit_et.so once per process and declare its C signatures."""
    key = os.path.realpath(lib_path)
    if key not in _LIBS:
        try:
            lib = ctypes.CDLL(key)
        except OSError as exc:
            raise EtError(f"cannot load the ExecuTorch runtime {lib_path}: {exc}") from None
        for name, (restype, argtypes) in _SIGNATURES.items():
            func = getattr(lib, name)
            func.restype, func.argtypes = restype, argtypes
        for name, (restype, argtypes) in _OPTIONAL.items():
            if hasattr(lib, name):
                func = getattr(lib, name)
                func.restype, func.argtypes = restype, argtypes
        _LIBS[key] = lib
    return _LIBS[key]


def _text(raw: bytes | None) -> str:
    return (raw or b"").decode("utf-8", "replace")


class EtModel:
    """One loaded method of a `.pte` program (`forward` unless named), ready to run repeatedly."""

    def __init__(
        self, lib_path: str, model_path: str, num_threads: int = 1, profile: str = "off", method: str = "forward"
    ) -> None:
        if profile not in PROFILE_MODES:
            raise ValueError(f"profile must be one of {sorted(PROFILE_MODES)}, got {profile!r}")
        self._lib = load_library(lib_path)
        self.model_path, self.profile = model_path, profile
        if not os.path.isfile(model_path):
            raise EtError(f"no such model file: {model_path}")
        if method == "forward":
            handle = self._lib.et_load(os.fsencode(model_path), int(num_threads), PROFILE_MODES[profile])
        elif hasattr(self._lib, "et_load_method"):
            name = method.encode()
            handle = self._lib.et_load_method(os.fsencode(model_path), name, int(num_threads), PROFILE_MODES[profile])
        else:
            raise EtError(f"this build of the ExecuTorch shim loads only 'forward', not '{method}': rebuild it")
        if not handle:
            raise EtError(_text(self._lib.et_last_error()) or f"cannot load {model_path}")
        self._h: int | None = handle
        self._instructions: list[str] | None = None
        self._inputs = [self._meta(self._lib.et_input_meta, i, False) for i in range(self._lib.et_num_inputs(handle))]

    def _handle(self) -> int:
        if self._h is None:
            raise EtError("the model was closed")
        return self._h

    def _check(self, status: int, what: str) -> None:
        if status != 0:
            raise EtError(f"{what}: {_text(self._lib.et_error(self._handle()))}")

    def _meta(self, func: Any, index: int, is_output: bool) -> dict[str, Any]:
        dtype, ndim, shape = ctypes.c_int(), ctypes.c_int(), (ctypes.c_int64 * MAX_DIMS)()
        self._check(
            func(self._handle(), index, ctypes.byref(dtype), ctypes.byref(ndim), shape, MAX_DIMS),
            f"metadata of {'output' if is_output else 'input'} {index}",
        )
        name = _text(self._lib.et_io_name(self._handle(), int(is_output), index))
        kind = "output" if is_output else "input"
        np_dtype = SCALAR_TYPES.get(dtype.value)
        return {
            "name": name or f"{kind}_{index}",
            "shape": [int(shape[d]) for d in range(ndim.value)],
            "dtype": np.dtype(np_dtype).name if np_dtype else f"scalar_type_{dtype.value}",
        }

    def input_specs(self) -> list[dict[str, Any]]:
        """Name, shape and numpy dtype name of each input (dtype 'scalar_type_-1' = not a tensor)."""
        return [dict(spec) for spec in self._inputs]

    def output_specs(self) -> list[dict[str, Any]]:
        """Like input_specs; after a run the shapes are those of the latest outputs."""
        return [self._meta(self._lib.et_output_meta, i, True) for i in range(self._lib.et_num_outputs(self._handle()))]

    def run(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        """Run the method once; inputs must match input_specs() in count, shape and dtype."""
        h = self._handle()
        if len(inputs) != len(self._inputs):
            raise EtError(f"the model takes {len(self._inputs)} inputs, got {len(inputs)}")
        for i, (array, spec) in enumerate(zip(inputs, self._inputs)):
            array = np.asarray(array, order="C")
            if list(array.shape) != spec["shape"] or array.dtype.name != spec["dtype"]:
                raise EtError(
                    f"input {i} ({spec['name']}) must be {spec['dtype']}{spec['shape']}, "
                    f"got {array.dtype.name}{list(array.shape)}"
                )
            self._check(self._lib.et_set_input(h, i, array.ctypes.data, array.nbytes), "set_input")
        return self._execute()

    def run_dynamic(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        """Like run(), for programs exported with dynamic shapes: an input may be smaller than
        its planned (upper-bound) shape in any dimension."""
        h = self._handle()
        if not hasattr(self._lib, "et_set_input_shaped"):
            raise EtError("this build of the ExecuTorch shim has no dynamic-shape inputs: rebuild it")
        if len(inputs) != len(self._inputs):
            raise EtError(f"the model takes {len(self._inputs)} inputs, got {len(inputs)}")
        for i, (array, spec) in enumerate(zip(inputs, self._inputs)):
            array = np.ascontiguousarray(array)
            if array.dtype.name != spec["dtype"]:
                raise EtError(f"input {i} ({spec['name']}) must be {spec['dtype']}, got {array.dtype.name}")
            shape = (ctypes.c_int64 * max(array.ndim, 1))(*array.shape)
            status = self._lib.et_set_input_shaped(h, i, array.ctypes.data, array.nbytes, array.ndim, shape)
            self._check(status, "set_input")
        return self._execute()

    def _execute(self) -> list[np.ndarray]:
        h = self._handle()
        self._check(self._lib.et_run(h), "run")
        outputs = []
        for i, spec in enumerate(self.output_specs()):
            if spec["dtype"] not in {np.dtype(t).name for t in SCALAR_TYPES.values()}:
                raise EtError(f"output {i} has unsupported type {spec['dtype']}")
            out = np.empty(spec["shape"], dtype=spec["dtype"])
            self._check(self._lib.et_get_output(h, i, out.ctypes.data, out.nbytes), "get_output")
            outputs.append(out)
        return outputs

    def memory_info(self) -> dict[str, Any]:
        """Planned buffer sizes and the other byte counts the runtime knows about."""
        sizes, info = (ctypes.c_int64 * 64)(), (ctypes.c_int64 * 4)()
        n = self._lib.et_memory_info(self._handle(), sizes, 64, info)
        planned = [int(sizes[i]) for i in range(min(n, 64))]
        return {
            "file_bytes": int(info[0]),
            "planned_buffers": planned,
            "planned_bytes": sum(planned),
            "method_allocator_bytes": int(info[1]),
            "temp_allocator_peak_bytes": int(info[2]),
            "input_copy_bytes": int(info[3]),
            "backends": self.backends(),
            "num_threads": int(self._lib.et_thread_count()),
        }

    def backends(self) -> list[str]:
        h = self._handle()
        return [_text(self._lib.et_backend_name(h, i)) for i in range(self._lib.et_num_backends(h))]

    def profile_events(self) -> list[dict[str, Any]]:
        """Events of the latest run (profile='events'): runtime events and delegate ops.

        kind 'runtime': name is OPERATOR_CALL/DELEGATE_CALL/Method::execute..., `index` is
        the instruction index (see pte_instructions for what each one calls);
        kind 'delegate': an op inside a delegate (XNNPACK op name), `index` = debug id.
        """
        h, events = self._handle(), []
        name, kind, chain = ctypes.c_char_p(), ctypes.c_int(), ctypes.c_int()
        index, start, duration = ctypes.c_int64(), ctypes.c_double(), ctypes.c_double()
        for i in range(self._lib.et_profile_count(h)):
            self._check(
                self._lib.et_profile_event(h, i, *map(ctypes.byref, (name, kind, chain, index, start, duration))),
                "profile event",
            )
            events.append(
                {
                    "name": _text(name.value),
                    "kind": "delegate" if kind.value else "runtime",
                    "chain": chain.value,
                    "index": index.value,
                    "start_us": start.value,
                    "duration_us": duration.value,
                }
            )
        return events

    def op_timings(self) -> list[dict[str, Any]]:
        """Per-instruction and per-delegate-op durations of the latest run, named."""
        if self._instructions is None:
            self._instructions = pte_instructions(self.model_path)
        names = self._instructions
        rows = []
        for ev in self.profile_events():
            if ev["kind"] == "delegate":
                rows.append({"op": ev["name"], "where": "delegate", "duration_us": ev["duration_us"]})
            elif ev["name"] in ("OPERATOR_CALL", "DELEGATE_CALL") and 0 <= ev["index"] < len(names):
                rows.append(
                    {
                        "op": names[ev["index"]],
                        "where": "instruction",
                        "index": ev["index"],
                        "duration_us": ev["duration_us"],
                    }
                )
        return rows

    def write_etdump(self, path: str) -> None:
        """Write the ETDump of the runs so far (profile='etdump'); read it with
        executorch.devtools.Inspector(etdump_path=path) on the host."""
        self._check(self._lib.et_write_etdump(self._handle(), os.fsencode(path)), "write_etdump")

    def close(self) -> None:
        if self._h is not None:
            self._lib.et_free(self._h)
            self._h = None

    def __enter__(self) -> EtModel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001, S110 - interpreter shutdown: nothing left to report to
            pass


# --- a minimal flatbuffer reader for the instruction list of a .pte (schema/program.fbs)


def _table(buf: bytes, pos: int) -> tuple[int, int, int]:
    vtable = pos - struct.unpack_from("<i", buf, pos)[0]
    return pos, vtable, struct.unpack_from("<H", buf, vtable)[0]


def _field(buf: bytes, table: tuple[int, int, int], slot: int) -> int | None:
    pos, vtable, vsize = table
    if 4 + 2 * slot >= vsize:
        return None
    offset = struct.unpack_from("<H", buf, vtable + 4 + 2 * slot)[0]
    return pos + offset if offset else None


def _ref(buf: bytes, at: int) -> int:
    return at + struct.unpack_from("<I", buf, at)[0]


def _vector(buf: bytes, table: tuple[int, int, int], slot: int) -> list[tuple[int, int, int]]:
    at = _field(buf, table, slot)
    if at is None:
        return []
    vec = _ref(buf, at)
    count = struct.unpack_from("<I", buf, vec)[0]
    return [_table(buf, _ref(buf, vec + 4 + 4 * i)) for i in range(count)]


def _string(buf: bytes, table: tuple[int, int, int], slot: int) -> str:
    at = _field(buf, table, slot)
    if at is None:
        return ""
    start = _ref(buf, at)
    length = struct.unpack_from("<I", buf, start)[0]
    return buf[start + 4 : start + 4 + length].decode("utf-8", "replace")


def _int_field(buf: bytes, table: tuple[int, int, int], slot: int, fmt: str = "<i") -> int:
    at = _field(buf, table, slot)
    return struct.unpack_from(fmt, buf, at)[0] if at is not None else 0


def pte_instructions(model_path: str, plan: str = "forward") -> list[str]:
    """What each instruction of chain 0 of `plan` does: 'aten::convolution.out',
    'delegate:XnnpackBackend', 'move', 'jump_false' or 'free'."""
    with open(model_path, "rb") as handle:
        buf = handle.read()
    program = _table(buf, struct.unpack_from("<I", buf, 0)[0])
    for ep in _vector(buf, program, 1):  # Program.execution_plan
        if _string(buf, ep, 0) != plan:
            continue
        ops = [_string(buf, op, 0) + "." + (_string(buf, op, 1) or "default") for op in _vector(buf, ep, 6)]
        delegates = [_string(buf, d, 0) for d in _vector(buf, ep, 7)]
        chains = _vector(buf, ep, 5)
        return [_describe(buf, instr, ops, delegates) for instr in (_vector(buf, chains[0], 2) if chains else [])]
    return []


def _describe(buf: bytes, instr: tuple[int, int, int], ops: list[str], delegates: list[str]) -> str:
    kind = _int_field(buf, instr, 0, "<B")  # union type: 1 Kernel, 2 Delegate, 3 Move, 4 JF, 5 Free
    at = _field(buf, instr, 1)
    args = _table(buf, _ref(buf, at)) if at is not None else None
    if kind == 1 and args:
        return ops[_int_field(buf, args, 0)]
    if kind == 2 and args:
        return "delegate:" + delegates[_int_field(buf, args, 0)]
    return {3: "move", 4: "jump_false", 5: "free"}.get(kind, f"unknown_{kind}")
