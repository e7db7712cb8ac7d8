"""iOS bundles: a folder for Xcode with a Swift wrapper and a resource bundle that match."""

from __future__ import annotations

import hashlib
import plistlib

import jsonschema
import pytest

from edge_kit.packager import tflite_metadata
from edge_kit.packager.metadata import schema
from tests.packager.conftest import CASES, FORMATS, metadata_of, sums, zip_members

SWIFT_IMPORTS = {
    "tflite": "import TensorFlowLite",
    "onnx": "import OnnxRuntimeBindings",
    "executorch": "import ExecuTorch",
}
DEPENDENCY = {
    "tflite": "pod 'TensorFlowLiteSwift', '~> 2.17.0'",
    "onnx": '.package(url: "https://github.com/microsoft/onnxruntime-swift-package-manager", from: "1.31.1")',
    "executorch": '.package(url: "https://github.com/pytorch/executorch", branch: "swiftpm-1.5.1")',
}
SHAPES = {"digits": "[1, 1, 8, 8]", "mnist": "[1, 1, 28, 28]"}


@pytest.mark.parametrize("model, fmt", CASES)
def test_the_folder_drops_into_xcode(bundles, model: str, fmt: str):
    members = zip_members(bundles[("ios", model, fmt)])
    cls = f"{model.capitalize()}Model"
    res = f"{cls}/{cls}.bundle/"
    assert set(members) == {
        f"{cls}/{cls}.swift",
        f"{res}Info.plist",
        f"{res}{model}{FORMATS[fmt]}",
        f"{res}{model}.metadata.json",
        f"{cls}/README.md",
        f"{cls}/SHA256SUMS",
    }
    plist = plistlib.loads(members[f"{res}Info.plist"])
    assert plist["CFBundlePackageType"] == "BNDL" and plist["CFBundleIdentifier"] == f"edgekit.models.{model}"
    listed = sums(members[f"{cls}/SHA256SUMS"])
    assert {f"{cls}/{name}" for name in listed} == set(members) - {f"{cls}/SHA256SUMS"}
    assert all(hashlib.sha256(members[f"{cls}/{n}"]).hexdigest() == d for n, d in listed.items())
    meta = metadata_of(members)
    jsonschema.validate(meta, schema())
    if fmt == "tflite":
        assert tflite_metadata.read(members[f"{res}{model}.tflite"]) == members[f"{res}{model}.metadata.json"]
    android = zip_members(bundles[("android", model, fmt)])
    assert android[f"assets/{model}.metadata.json"] == members[f"{res}{model}.metadata.json"]  # one JSON


@pytest.mark.parametrize("model, fmt", CASES)
def test_the_swift_wrapper_names_the_resources_shapes_and_constants(bundles, model: str, fmt: str):
    cls = f"{model.capitalize()}Model"
    members = zip_members(bundles[("ios", model, fmt)])
    source = members[f"{cls}/{cls}.swift"].decode()
    meta = metadata_of(members)
    assert f"public final class {cls} {{" in source and f'bundleName = "{cls}"' in source
    assert f'modelResource = "{model}"' in source and f'modelExtension = "{FORMATS[fmt][1:]}"' in source
    assert f'metadataResource = "{model}.metadata"' in source
    assert f"inputShapes: [[Int]] = [{SHAPES[model]}]" in source and "outputShapes: [[Int]] = [[1, 10]]" in source
    assert 'inputDtypes: [String] = ["float32"]' in source
    assert f'inputNames: [String] = ["{meta["inputs"][0]["name"]}"]' in source
    if model == "mnist":
        assert "normMeans: [[Float]] = [[0.0]]" in source and "normStds: [[Float]] = [[127.5]]" in source
        assert "normScales: [Float] = [0.5]" in source
    assert SWIFT_IMPORTS[fmt] in source and "@@" not in source
    assert source.count("{") == source.count("}") and source.count("(") == source.count(")")
    readme = members[f"{cls}/README.md"].decode()
    assert DEPENDENCY[fmt] in readme and f"{cls}.bundle" in readme
