"""Android bundles: an AAR Gradle takes as a local dependency, with a Kotlin wrapper that matches it."""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET

import jsonschema
import pytest

from edge_kit.manifest import read_manifest
from edge_kit.packager import tflite_metadata
from edge_kit.packager.metadata import schema
from tests.packager.conftest import CASES, FORMATS, metadata_of, sums, zip_members

ANDROID_NS = "{http://schemas.android.com/apk/res/android}"
RUNTIME_IMPORTS = {
    "tflite": "import org.tensorflow.lite.Interpreter",
    "onnx": "import ai.onnxruntime.OrtSession",
    "executorch": "import org.pytorch.executorch.Module",
}
GRADLE = {
    "tflite": "com.google.ai.edge.litert:litert:2.3.0",
    "onnx": "com.microsoft.onnxruntime:onnxruntime-android:1.31.1",
    "executorch": "org.pytorch:executorch-android:1.5.1",
}
SHAPES = {"digits": "1, 1, 8, 8", "mnist": "1, 1, 28, 28"}


@pytest.mark.parametrize("model, fmt", CASES)
def test_the_aar_has_the_layout_gradle_reads(bundles, artifacts, model: str, fmt: str):
    members = zip_members(bundles[("android", model, fmt)])
    asset, meta_asset = f"assets/{model}{FORMATS[fmt]}", f"assets/{model}.metadata.json"
    kotlin = f"kotlin/edgekit/models/{model}/{model.capitalize()}Model.kt"
    assert set(members) == {"AndroidManifest.xml", "R.txt", asset, meta_asset, kotlin, "README.md", "SHA256SUMS"}
    manifest = ET.fromstring(members["AndroidManifest.xml"])
    assert manifest.tag == "manifest" and manifest.get("package") == f"edgekit.models.{model}"
    assert int(manifest.find("uses-sdk").get(f"{ANDROID_NS}minSdkVersion")) >= 21
    assert members["R.txt"] == b""
    listed = sums(members["SHA256SUMS"])
    assert set(listed) == set(members) - {"SHA256SUMS"}
    assert all(hashlib.sha256(members[name]).hexdigest() == digest for name, digest in listed.items())
    exported = read_manifest(artifacts[(model, fmt)])
    if fmt == "tflite":  # the same JSON travels inside the model
        assert tflite_metadata.read(members[asset]) == members[meta_asset]
    else:
        assert hashlib.sha256(members[asset]).hexdigest() == exported["artifact"]["sha256"]


@pytest.mark.parametrize("model, fmt", CASES)
def test_the_metadata_is_schema_valid_and_describes_the_model(bundles, model: str, fmt: str):
    members = zip_members(bundles[("android", model, fmt)])
    meta = metadata_of(members)
    jsonschema.validate(meta, schema())
    assert meta["model"]["file"] == f"{model}{FORMATS[fmt]}" and meta["model"]["format"] == fmt
    assert meta["model"]["metadata_embedded"] is (fmt == "tflite")
    assert meta["inputs"][0]["shape"] == [int(d) for d in SHAPES[model].split(", ")]
    assert meta["outputs"][0]["shape"] == [1, 10] and meta["task"] == "classification"
    assert meta["validation"]["status"] == "ok" and meta["accuracy"]["samples"] in (450, 1000)
    assert meta["target"]["name"] == "raspi4" and meta["versions"]
    if model == "digits":
        assert meta["labels"] == [f"digit {i}" for i in range(10)]
    else:
        assert meta["labels"] is None and meta["inputs"][0]["normalization"]["std"] == [127.5]


@pytest.mark.parametrize("model, fmt", CASES)
def test_the_kotlin_wrapper_names_the_assets_shapes_and_constants(bundles, model: str, fmt: str):
    members = zip_members(bundles[("android", model, fmt)])
    source = members[f"kotlin/edgekit/models/{model}/{model.capitalize()}Model.kt"].decode()
    meta = metadata_of(members)
    assert f"package edgekit.models.{model}\n" in source
    assert f"class {model.capitalize()}Model(context: Context" in source
    assert f'const val MODEL_ASSET = "{model}{FORMATS[fmt]}"' in source
    assert f'const val METADATA_ASSET = "{model}.metadata.json"' in source
    assert f"INPUT_SHAPES = arrayOf(longArrayOf({SHAPES[model]}))" in source
    assert 'INPUT_DTYPES = arrayOf("float32")' in source and "OUTPUT_SHAPES = arrayOf(longArrayOf(1, 10))" in source
    assert f'INPUT_NAMES = arrayOf("{meta["inputs"][0]["name"]}")' in source
    assert f'OUTPUT_NAMES = arrayOf("{meta["outputs"][0]["name"]}")' in source
    if model == "mnist":
        assert "NORM_MEANS = arrayOf(floatArrayOf(0.0f))" in source
        assert "NORM_STDS = arrayOf(floatArrayOf(127.5f))" in source
        assert "NORM_SCALES = floatArrayOf(0.5f)" in source
    assert RUNTIME_IMPORTS[fmt] in source and "@@" not in source
    for other in set(RUNTIME_IMPORTS) - {fmt}:
        assert RUNTIME_IMPORTS[other] not in source
    assert source.count("{") == source.count("}") and source.count("(") == source.count(")")
    readme = members["README.md"].decode()
    assert f'implementation("{GRADLE[fmt]}")' in readme and f"{model}-android.aar" in readme


def test_int8_io_constants_reach_the_wrapper():
    """A quantized-I/O model's scale and zero point are in the generated constants."""
    from edge_kit.packager import android
    from edge_kit.packager.base import Bundle

    meta = {
        "model": {"format": "tflite", "file": "q.tflite", "precision": "int8"},
        "versions": {},
        "inputs": [
            {
                "name": "x",
                "shape": [1, 4],
                "dtype": "int8",
                "layout": None,
                "quantization": {"scale": 0.5, "zero_point": -128},
                "normalization": None,
            }
        ],
        "outputs": [
            {
                "name": "y",
                "shape": [1, 2],
                "dtype": "uint8",
                "layout": None,
                "quantization": {"scale": 0.25, "zero_point": 3},
                "meaning": "",
            }
        ],
    }
    source = android.kotlin_source(Bundle("q", "1.0.0", b"TFL3", meta, b"{}"))
    assert "INPUT_QUANT_SCALES = floatArrayOf(0.5f)" in source
    assert "INPUT_QUANT_ZERO_POINTS = intArrayOf(-128)" in source
    assert 'OUTPUT_DTYPES = arrayOf("uint8")' in source and "OUTPUT_QUANT_ZERO_POINTS = intArrayOf(3)" in source
    assert re.search(r"NORM_MEANS = arrayOf\(floatArrayOf\(0\.0f\)\)", source)
