"""Property tests of the parsers that read user files: any input is a result or a typed
edgekit error, never another exception, never a hang.

Bounded for CI (`ci` profile: fixed examples per test, a per-example deadline, a fixed seed
so a run is reproducible). `HYPOTHESIS_PROFILE=deep` explores with random seeds and 10x
the examples.
"""

from __future__ import annotations

import io
import json
import math
import os
import shutil
import tempfile
import tomllib
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_kit.errors import EdgeKitError

settings.register_profile(
    "ci",
    max_examples=300,
    deadline=timedelta(seconds=5),
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "deep",
    max_examples=3000,
    deadline=timedelta(seconds=10),
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
pytestmark = pytest.mark.timeout(900)


FOLDER = Path(tempfile.mkdtemp(prefix="edgekit-fuzz-"))  # examples cannot use function-scoped fixtures


@pytest.fixture(scope="module", autouse=True)
def _remove_folder() -> Iterator[None]:
    yield
    shutil.rmtree(FOLDER, ignore_errors=True)


def _file(data: bytes, name: str) -> Path:
    """`FOLDER/name` holding `data` (each example overwrites the previous one's)."""
    path = FOLDER / name
    path.write_bytes(data)
    return path


def _typed_or_result(call: Any, *args: Any) -> Any:
    try:
        return call(*args)
    except EdgeKitError as exc:
        assert exc.exit_code != 1 and "\n" not in exc.one_line()
        return exc


# --- model sniffing

MAGICS = [
    b"",
    b"PK\x03\x04",
    b"\x89HDF\r\n\x1a\n",
    b"\x1c\x00\x00\x00TFL3",
    b"\x00\x00\x00\x00ET12",
    b"\x80\x02",
    b"\x08\x07\x12\x07pytorch",
    b"\x93NUMPY",
]
SUFFIXES = [".pt", ".pt2", ".onnx", ".keras", ".h5", ".tflite", ".pte", ".bin"]


def _zip(entries: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries:
            try:
                archive.writestr(name, data)
            except (IndexError, ValueError):  # names zipfile itself cannot write ("/", ...)
                continue
    return buffer.getvalue()


ENTRY_NAMES = st.one_of(
    st.sampled_from(
        [
            "m/data.pkl",
            "m/code/x.py",
            "m/constants.pkl",
            "m/bytecode.pkl",
            "m/archive_format",
            "m/models/model.json",
            "config.json",
            "model.weights.h5",
            "../evil",
            "/abs",
            "C:x",
            "a\\..\\b",
        ]
    ),
    st.text(min_size=1, max_size=30),
)
model_bytes = st.one_of(
    st.binary(max_size=4096),
    st.builds(lambda m, b: m + b, st.sampled_from(MAGICS), st.binary(max_size=2048)),
    st.lists(st.tuples(ENTRY_NAMES, st.binary(max_size=256)), max_size=6).map(_zip),
)


@settings(settings.get_profile(PROFILE))
@given(data=model_bytes, suffix=st.sampled_from(SUFFIXES))
def test_sniff_any_bytes(data: bytes, suffix: str) -> None:
    from edge_kit.models.sniff import Kind, sniff
    from edge_kit.registry import format_of_file

    kind = _typed_or_result(sniff, _file(data, "model" + suffix))
    if isinstance(kind, Kind):
        path = _file(data, "artifact" + suffix)
        fmt = _typed_or_result(format_of_file, path)
        if fmt is not None and not isinstance(fmt, BaseException):
            _typed_or_result(fmt.check_artifact, path)


# --- manifests and the package metadata built from them

JSON_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 2**40), st.floats(allow_nan=False), st.text(max_size=12)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)


def _good_tensor() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "name": st.text(max_size=6),
            "shape": st.lists(st.one_of(st.integers(0, 16), st.none()), max_size=4),
            "dtype": st.sampled_from(["float32", "int8", "uint8", "int64", "weird"]),
        },
        optional={
            "layout": st.sampled_from(["NCHW", "NHWC", "NCW", None, 7]),
            "scale": st.one_of(st.none(), st.floats(allow_nan=False)),
            "zero_point": st.integers(-3, 3),
        },
    )


def _tensor() -> st.SearchStrategy[Any]:
    return st.one_of(_good_tensor(), JSON_VALUES)


SHA256 = st.text("0123456789abcdef", min_size=64, max_size=64)
# A complete, valid manifest: the strategies below vary the parts the package metadata is built
# from (tensors, calibration preprocessing, artifact facts) or replace one section by junk.
BASE_MANIFEST: dict[str, Any] = {
    "schema": "edgekit.manifest",
    "schema_version": 1,
    "edgekit_version": "0.1.0",
    "created_utc": "2026-12-02T00:00:00Z",
    "status": "ok",
    "artifact": {
        "file": "m.onnx",
        "format": "onnx",
        "runtime": "onnxruntime",
        "precision": "fp32",
        "sha256": "ab" * 32,
        "size_bytes": 10,
    },
    "source": {"path": "/m.pt2", "kind": "exported_program", "framework": "torch", "sha256": "cd" * 32},
    "target": {
        "name": "raspi4",
        "aliases": [],
        "description": "Raspberry Pi 4",
        "arch": "aarch64",
        "docker_platform": "linux/arm64",
        "qemu_cpu": "cortex-a72",
        "cores": 4,
        "clock_ghz": 1.5,
        "memory_mb": 4096,
        "isa": ["neon"],
        "preferred_formats": ["onnx"],
        "default_precision": "fp32",
    },
    "inputs": [{"name": "x", "shape": [1, 3, 4, 4], "dtype": "float32", "layout": "NCHW"}],
    "source_inputs": [{"name": "x", "shape": [1, 3, 4, 4], "dtype": "float32", "layout": "NCHW"}],
    "outputs": [{"name": "y", "shape": [1, 3], "dtype": "float32", "layout": None}],
    "validation": {
        "status": "ok",
        "samples": 2,
        "max_abs_diff": 0.0,
        "mean_abs_diff": 0.0,
        "cosine_similarity": 1.0,
        "top1_agreement": 1.0,
        "tolerance": {"atol": 1e-4, "rtol": 1e-4, "min_cosine": 0.99999, "min_top1": 1.0},
        "reasons": [],
        "layout_transposed": False,
        "inputs": "random",
    },
    "versions": {"onnxruntime": "1.31.1"},
    "timings_s": {"load_s": 1.0, "export_s": 1.0, "validate_s": 1.0},
}


def _quantization() -> st.SearchStrategy[Any]:
    numbers = st.one_of(st.floats(-2, 2), st.integers(-2, 2))
    preprocess = st.fixed_dictionaries(
        {},
        optional={
            "scale": st.one_of(numbers, JSON_SCALARS),
            "mean": st.lists(st.one_of(numbers, JSON_SCALARS), max_size=3),
            "std": st.lists(numbers, max_size=3),
        },
    )
    calibration = st.one_of(
        st.fixed_dictionaries(
            {"kind": st.just("images"), "path": st.just("imgs"), "samples": st.integers(0, 9), "preprocess": preprocess}
        ),
        st.none(),
        JSON_VALUES,
    )
    return st.fixed_dictionaries(
        {
            "recipe": st.just("r"),
            "tool": st.just("t"),
            "settings": st.just({}),
            "calibration": calibration,
            "keep_float": st.just([]),
        }
    )


def _manifest() -> st.SearchStrategy[dict[str, Any]]:
    """Manifests whose tensors, artifact facts and calibration vary (most parse, so the metadata
    built from them is exercised), and manifests with a junk header or one junk section."""
    tensors = st.lists(_good_tensor(), min_size=1, max_size=3)
    artifact = st.fixed_dictionaries(
        {
            "file": st.just("m.onnx"),
            "format": st.sampled_from(["onnx", "tflite", "executorch", "ptl"]),
            "runtime": st.just("onnxruntime"),
            "precision": st.sampled_from(["fp32", "int8", None]),
            "sha256": SHA256,
            "size_bytes": st.integers(0, 99),
        },
        optional={"opset": st.integers(7, 21)},
    )
    varied = st.fixed_dictionaries(
        {
            **{key: st.just(value) for key, value in BASE_MANIFEST.items()},
            "artifact": artifact,
            "inputs": tensors,
            "source_inputs": tensors,
            "outputs": tensors,
        },
        optional={"quantization": _quantization()},
    )
    header = st.fixed_dictionaries(
        {
            "schema_version": st.one_of(st.sampled_from([0, 2, "1", True]), JSON_SCALARS),
            "status": JSON_SCALARS,
        }
    ).map(lambda junk: {**BASE_MANIFEST, **junk})
    one_section_junk = st.sampled_from(sorted(BASE_MANIFEST)).flatmap(
        lambda key: st.one_of(JSON_VALUES, st.lists(_tensor(), max_size=3)).map(lambda v: {**BASE_MANIFEST, key: v})
    )
    return st.one_of(varied, header, one_section_junk)


@settings(settings.get_profile(PROFILE))
@given(
    data=st.one_of(
        st.binary(max_size=512),
        JSON_VALUES.map(lambda v: json.dumps(v).encode()),
        _manifest().map(lambda m: json.dumps(m).encode()),
    )
)
def test_parse_manifest_any_bytes(data: bytes) -> None:
    from edge_kit.manifest import parse_manifest

    _typed_or_result(parse_manifest, data, "fuzz.json")


@settings(settings.get_profile(PROFILE))
@given(
    manifest=_manifest(),
    labels=st.one_of(st.none(), st.lists(st.text(min_size=1, max_size=4), max_size=12)),
    mean=st.one_of(st.none(), st.lists(st.floats(-2, 2), min_size=1, max_size=4)),
)
def test_package_metadata_from_any_manifest(
    manifest: dict[str, Any], labels: list[str] | None, mean: list[float] | None
) -> None:
    from edge_kit.manifest import parse_manifest
    from edge_kit.packager.metadata import Normalization, build_metadata, to_json

    parsed = _typed_or_result(parse_manifest, json.dumps(manifest), "fuzz.json")
    if isinstance(parsed, EdgeKitError):
        return
    document = _typed_or_result(
        lambda: build_metadata(
            parsed,
            name="m",
            version="1.0.0",
            model_file="m.onnx",
            labels=labels,
            labels_origin="labels.txt",
            normalization=Normalization(mean=tuple(mean) if mean else None),
            embedded=False,
        )
    )
    if isinstance(document, dict):
        json.loads(to_json(document))


# --- TOML data files: targets, recipes, devices

TOML_SCALARS = st.one_of(
    st.booleans(), st.integers(-3, 70000), st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=10)
)
TOML_VALUES = st.recursive(
    TOML_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(min_size=1, max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


def _table(known: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """Tables mixing known keys (plausible or random values) with unknown ones."""
    values = {key: st.one_of(strategy, TOML_VALUES) for key, strategy in known.items()}
    return st.fixed_dictionaries({}, optional=values).flatmap(
        lambda table: st.dictionaries(st.text(min_size=1, max_size=6), TOML_VALUES, max_size=2).map(
            lambda extra: {**extra, **table}
        )
    )


def _shipped(module: str, name: str) -> dict[str, Any]:
    from importlib import resources

    return tomllib.loads(resources.files(module).joinpath(name).read_text("utf-8"))


RASPI4 = _shipped("edge_kit.targets_data", "raspi4.toml")
TARGET_TABLES = st.one_of(
    _table({key: st.just(value) for key, value in RASPI4.items()}),
    st.sampled_from(sorted(RASPI4)).flatmap(lambda key: TOML_VALUES.map(lambda v: {**RASPI4, key: v})),
)


@settings(settings.get_profile(PROFILE))
@given(table=TARGET_TABLES)
def test_target_tables(table: dict[str, Any]) -> None:
    from edge_kit.targets import _parse

    _typed_or_result(_parse, table, "fuzz.toml")


def _recipes() -> list[dict[str, Any]]:
    from importlib import resources

    return [
        tomllib.loads(e.read_text("utf-8"))
        for e in resources.files("edge_kit.recipes_data").iterdir()
        if e.name.endswith(".toml")
    ]


RECIPES = _recipes()
RECIPE_TABLES = st.sampled_from(RECIPES).flatmap(
    lambda recipe: st.one_of(
        _table({key: st.just(value) for key, value in recipe.items()}),
        st.sampled_from(sorted(recipe)).flatmap(lambda key: TOML_VALUES.map(lambda v: {**recipe, key: v})),
        st.dictionaries(st.sampled_from(["resize", "mean", "std", "scale", "layout", "color"]), TOML_VALUES).map(
            lambda pre: {**recipe, "preprocess": pre}
        ),
    )
)


@settings(settings.get_profile(PROFILE))
@given(table=RECIPE_TABLES)
def test_recipe_tables(table: dict[str, Any]) -> None:
    from edge_kit.recipes import parse

    _typed_or_result(parse, table, "fuzz.toml")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value) if math.isfinite(value) else "0"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"


def _toml(document: dict[str, Any]) -> str:
    """TOML text for a document of tables (enough for the inventory's shape)."""
    lines = []
    for key, value in document.items():
        if isinstance(value, dict) and all(isinstance(v, dict) for v in value.values()) and value:
            for name, table in value.items():
                lines.append(f"[{json.dumps(key)}.{json.dumps(name)}]")
                lines += [f"{json.dumps(k)} = {_toml_value(v)}" for k, v in table.items()]
        else:
            lines.append(f"{json.dumps(key)} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


DEVICE = {
    "address": st.sampled_from(["pi@10.0.0.5", "pi@[::1]:22", "host", "-oProxy=x", "a@b:99999", ""]),
    "target": st.sampled_from(["raspi4", "nope"]),
    "concurrency": st.integers(-1, 99),
    "groups": st.lists(st.text(max_size=5), max_size=2),
    "python": st.text(max_size=6),
    "identity": st.text(max_size=6),
    "connect_timeout": st.integers(0, 400),
}
INVENTORIES = st.fixed_dictionaries(
    {},
    optional={
        "ssh": _table({k: DEVICE[k] for k in ("identity", "connect_timeout")}),
        "devices": st.one_of(st.dictionaries(st.text(min_size=1, max_size=6), _table(DEVICE), max_size=3), TOML_VALUES),
    },
)


@settings(settings.get_profile(PROFILE))
@given(document=INVENTORIES, raw=st.one_of(st.none(), st.binary(max_size=200)))
def test_devices_inventory_files(document: dict[str, Any], raw: bytes | None) -> None:
    from edge_kit.devices import load_inventory

    text = raw if raw is not None else _toml(document).encode("utf-8", "surrogatepass")
    _typed_or_result(load_inventory, _file(text, "devices.toml"))


# --- data files (.npz / .npy)


def _npy(header: dict[str, Any], body: bytes) -> bytes:
    buffer = io.BytesIO()
    try:
        np.lib.format.write_array_header_1_0(buffer, header)
    except (ValueError, TypeError):
        buffer.write(b"\x93NUMPY\x01\x00" + (10).to_bytes(2, "little") + b"{'a': 1}\n")
    return buffer.getvalue() + body


HEADERS = st.fixed_dictionaries(
    {
        "descr": st.sampled_from(["<f4", "<i8", "|u1", "|O", "<U3", "<c8", "|b1", "V4"]),
        "fortran_order": st.booleans(),
        "shape": st.lists(st.integers(0, 2**40), max_size=4).map(tuple),
    }
)
npy_bytes = st.builds(_npy, HEADERS, st.binary(max_size=512))
data_bytes = st.one_of(
    st.binary(max_size=1024),
    npy_bytes,
    st.lists(st.tuples(st.sampled_from(["x.npy", "y.npy", "a/b.npy", "x"]), npy_bytes), max_size=3).map(_zip),
    st.lists(st.tuples(st.text(min_size=1, max_size=5), st.binary(max_size=64)), max_size=3).map(_zip),
)


@settings(settings.get_profile(PROFILE))
@given(data=data_bytes, suffix=st.sampled_from([".npz", ".npy", ".bin"]))
def test_read_arrays_any_bytes(data: bytes, suffix: str) -> None:
    from edge_kit.data import read_arrays

    arrays = _typed_or_result(read_arrays, _file(data, "data" + suffix))
    if isinstance(arrays, dict):
        assert arrays and all(isinstance(a, np.ndarray) for a in arrays.values())
