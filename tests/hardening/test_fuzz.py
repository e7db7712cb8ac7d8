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


def _tensor() -> st.SearchStrategy[Any]:
    good = st.fixed_dictionaries(
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
    return st.one_of(good, JSON_VALUES)


def _manifest() -> st.SearchStrategy[dict[str, Any]]:
    tensors = st.one_of(st.lists(_tensor(), max_size=3), JSON_VALUES)
    artifact = st.fixed_dictionaries(
        {"sha256": st.text(max_size=8)},
        optional={
            "format": st.sampled_from(["onnx", "tflite", "executorch", "ptl", 3]),
            "size_bytes": st.one_of(st.integers(0, 99), st.text(max_size=3)),
            "precision": JSON_SCALARS,
            "runtime": JSON_SCALARS,
            "file": JSON_SCALARS,
        },
    )
    calibration = st.one_of(
        st.none(),
        JSON_VALUES,
        st.fixed_dictionaries(
            {},
            optional={
                "kind": JSON_SCALARS,
                "preprocess": st.one_of(
                    JSON_VALUES,
                    st.fixed_dictionaries(
                        {},
                        optional={
                            "scale": JSON_SCALARS,
                            "mean": st.lists(JSON_SCALARS, max_size=3),
                            "std": st.lists(JSON_SCALARS, max_size=3),
                        },
                    ),
                ),
            },
        ),
    )
    return st.fixed_dictionaries(
        {
            "schema": st.just("edgekit.manifest"),
            "schema_version": st.sampled_from([1, 0, 2, "1"]),
            "artifact": st.one_of(artifact, JSON_VALUES),
            "source": JSON_VALUES,
            "inputs": tensors,
            "outputs": tensors,
            "status": JSON_SCALARS,
        },
        optional={
            "source_inputs": tensors,
            "target": JSON_VALUES,
            "validation": JSON_VALUES,
            "accuracy": JSON_VALUES,
            "versions": JSON_VALUES,
            "quantization": st.one_of(JSON_VALUES, st.fixed_dictionaries({"calibration": calibration})),
        },
    )


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
