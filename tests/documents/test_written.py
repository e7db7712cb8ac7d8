"""The documents edgekit writes are their types: real manifests and a real profile report validate
against the models and against the schemas `edgekit schema` prints (a real bench leaderboard:
tests/benchmark/test_bench.py);
a schema-1 manifest from the first edgekit release still reads; broken manifests are one line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest

from edge_kit.documents.manifest import Manifest
from edge_kit.documents.profile import ProfileReport
from edge_kit.errors import ManifestError
from edge_kit.manifest import manifest_path, manifest_text, parse_manifest, read_manifest
from edge_kit.pipeline import ExportRequest, export
from tests.conftest import assert_clean_error, run_cli

# Written by `edgekit export sample_models/digits_cnn.pt2 --format onnx` at commit d31cf0b
# (the foundation commit: manifest schema 1, before quantization and accuracy sections existed).
OLD = Path(__file__).parent / "data" / "manifest_v1_d31cf0b.json"
SUFFIX = {"onnx": ".onnx", "tflite": ".tflite", "executorch": ".pte", "ptl": ".ptl"}


@pytest.fixture(scope="module")
def exported(tiny: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The tiny CNN as a static int8 ONNX (calibration, accuracy, budget search) and an fp32 TFLite."""
    folder = tmp_path_factory.mktemp("documents")
    int8 = export(
        ExportRequest(
            model=tiny["cnn.pt2"],
            format="onnx",
            precision="int8",
            calibration=tiny["inputs.npz"],
            eval_data=tiny["inputs.npz"],
            max_accuracy_drop=0.5,
            output=folder / "cnn.int8.onnx",
            num_samples=2,
        )
    )
    fp32 = export(ExportRequest(model=tiny["cnn.pt2"], format="tflite", output=folder / "cnn.tflite", num_samples=2))
    return {"onnx-int8": int8.artifact, "tflite-fp32": fp32.artifact}


@pytest.fixture(scope="module")
def schemas() -> dict[str, dict[str, Any]]:
    """The schemas as `edgekit schema NAME` prints them."""
    out = {}
    for name in ("manifest", "profile"):
        result = run_cli("schema", name)
        assert result.code == 0, result.stderr
        out[name] = json.loads(result.stdout)
        jsonschema.Draft202012Validator.check_schema(out[name])
    return out


def _json(path: Path) -> Any:
    return json.loads(path.read_text())


def test_manifests_written_by_the_exporter_are_manifests(exported: dict[str, Path], schemas: dict[str, Any]):
    for artifact in exported.values():
        data = _json(manifest_path(artifact))
        Manifest.model_validate(data)
        assert read_manifest(artifact) == data
        jsonschema.validate(data, schemas["manifest"])
    int8 = Manifest.model_validate(_json(manifest_path(exported["onnx-int8"])))
    assert int8.quantization and int8.quantization.calibration and int8.quantization.calibration.kind == "file"
    assert int8.accuracy and int8.accuracy.budget and int8.artifact.quantizer
    assert Manifest.model_validate(_json(manifest_path(exported["tflite-fp32"]))).artifact.converter == "litert-torch"


def _images(folder: Path) -> Path:
    from PIL import Image

    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(4):
        Image.fromarray((rng.random((12, 12)) * 255).astype(np.uint8)).save(folder / f"{i}.png")
    return folder


@pytest.mark.parametrize(
    "source, options",
    [
        ("cnn.pt2", {"format": "ptl"}),
        ("cnn.pt2", {"format": "executorch", "portable": True}),
        ("cnn.keras", {"format": "onnx"}),
        ("cnn.onnx", {"format": "onnx", "precision": "int8-dynamic"}),
        ("cnn.pt2", {"format": "onnx", "precision": "int8", "calibration": "images"}),
        ("cnn.pt2", {"format": "onnx", "precision": "int8", "calibration": "random", "max_accuracy_drop": -1.0}),
        ("cnn.pt2", {"format": "executorch", "recipe": "xnnpack_pt2e_int8_static_per_channel_equalized"}),
    ],
    ids=["ptl", "executorch-portable", "keras-onnx", "onnx-copy-dynamic", "images", "budget-search", "equalized"],
)
def test_every_kind_of_export_writes_a_manifest(
    tiny: dict[str, Path], tmp_path: Path, schemas: dict[str, Any], source: str, options: dict[str, Any]
):
    """Calibration kinds, the budget search's probes and steps (a budget no export meets forces
    it), equalization and bias correction, each format's own facts."""
    options = dict(options)
    if options.get("calibration") == "images":
        options["calibration"] = _images(tmp_path / "images")
    elif "recipe" in options:
        options["calibration"] = tiny["inputs.npz"]
    if "max_accuracy_drop" in options:
        options["eval_data"] = tiny["inputs.npz"]
    result = export(
        ExportRequest(model=tiny[source], output=tmp_path / f"m{SUFFIX[options['format']]}", num_samples=2, **options)
    )
    data = _json(result.manifest_path)
    manifest = Manifest.model_validate(data)
    jsonschema.validate(data, schemas["manifest"])
    if manifest.accuracy and manifest.accuracy.budget:
        assert manifest.status == "over_budget" and manifest.accuracy.budget.probes
    if "recipe" in options:
        assert manifest.quantization and manifest.quantization.equalized and manifest.quantization.bias_corrected


def test_the_manifest_schema_is_not_vacuous(exported: dict[str, Path], schemas: dict[str, Any]):
    data = _json(manifest_path(exported["onnx-int8"]))
    for broken in (
        {**data, "inputs": "x"},
        {**data, "colour": "red"},
        {**data, "accuracy": {**data["accuracy"], "drop": "0.1"}},
        {**data, "artifact": {**data["artifact"], "size_bytes": True}},
        {k: v for k, v in data.items() if k != "validation"},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, schemas["manifest"])


def test_a_schema_1_manifest_from_the_first_release_still_reads(schemas: dict[str, Any]):
    data = parse_manifest(OLD.read_bytes(), OLD.name)
    manifest = Manifest.model_validate(data)
    assert manifest.schema_version == 1 and manifest.quantization is None and manifest.accuracy is None
    assert manifest.artifact.opset == 18 and manifest.target.name == "host"
    jsonschema.validate(data, schemas["manifest"])


@pytest.mark.parametrize(
    "edit, expected",
    [
        (lambda m: m.update(inputs="x"), "is malformed: inputs must be a list of tensors, not a string"),
        (lambda m: m["artifact"].update(size_bytes="9"), "artifact.size_bytes must be an integer, not a string"),
        (lambda m: m.update(colour="red"), "is malformed: unknown field 'colour'"),
        (lambda m: m.pop("validation"), "is malformed: missing field 'validation'"),
        (lambda m: m["outputs"][0].update(shape=[1, -2]), "outputs[0].shape[1] must be greater than or equal to 0"),
        (lambda m: m.update(schema_version=2), "has schema version 2; this edgekit reads up to 1 — upgrade edgekit"),
    ],
)
def test_broken_manifests_are_one_line_errors_naming_the_field(
    exported: dict[str, Path], tmp_path: Path, edit: Any, expected: str
):
    artifact = tmp_path / "m.onnx"
    shutil.copyfile(exported["onnx-int8"], artifact)
    data = _json(manifest_path(exported["onnx-int8"]))
    edit(data)
    manifest_path(artifact).write_text(json.dumps(data))
    with pytest.raises(ManifestError) as err:
        read_manifest(artifact)
    assert err.value.exit_code == 13 and expected in err.value.one_line() and "\n" not in err.value.one_line()


def test_package_refuses_a_malformed_manifest_with_exit_13(exported: dict[str, Path], tmp_path: Path):
    artifact = tmp_path / "m.onnx"
    shutil.copyfile(exported["onnx-int8"], artifact)
    data = _json(manifest_path(exported["onnx-int8"]))
    data["quantization"]["calibration"]["samples"] = "many"
    manifest_path(artifact).write_text(json.dumps(data))
    result = run_cli("package", artifact, "-p", "android", "-o", tmp_path / "m.aar")
    assert_clean_error(result, 13, "m.onnx.json is malformed: quantization.calibration.samples must be an integer")
    assert not (tmp_path / "m.aar").exists()


def test_a_manifest_edgekit_could_not_read_back_is_never_written(exported: dict[str, Path]):
    data = _json(manifest_path(exported["tflite-fp32"]))
    assert json.loads(manifest_text(data)) == data
    with pytest.raises(RuntimeError, match=r"invalid manifest: validation\.samples must be an integer"):
        manifest_text({**data, "validation": {**data["validation"], "samples": 2.5}})


def test_a_real_profile_report_is_a_profile_report(exported: dict[str, Path], schemas: dict[str, Any]):
    result = run_cli("profile", exported["onnx-int8"], "--target", "host", "--num_runs", "2", "--json")
    assert result.code == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    typed = ProfileReport.model_validate(report)
    assert typed.backend.name == "host" and typed.latency.kind == "measured" and typed.estimate is None
    assert typed.ops is not None and typed.ops.available and typed.artifact.manifest
    jsonschema.validate(report, schemas["profile"])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**report, "latency": {**report["latency"], "kind": "device"}}, schemas["profile"])
