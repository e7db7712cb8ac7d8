"""The metadata document: schema, labels, normalization, and the TFLite embedding."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from edge_kit.errors import DataError, UsageError
from edge_kit.packager import tflite_metadata
from edge_kit.packager.metadata import Normalization, build_metadata, read_labels, schema, to_json


def _manifest(**overrides) -> dict:
    manifest = {
        "status": "ok",
        "artifact": {
            "file": "m.onnx",
            "format": "onnx",
            "runtime": "onnxruntime",
            "precision": "int8",
            "sha256": "ab" * 32,
            "size_bytes": 10,
        },
        "source": {
            "path": "/home/me/secret/m.pt2",
            "kind": "exported_program",
            "framework": "torch",
            "sha256": "cd" * 32,
        },
        "target": {"name": "raspi4", "description": "Raspberry Pi 4", "arch": "aarch64"},
        "inputs": [
            {"name": "image", "shape": [1, 3, 4, 4], "dtype": "int8", "layout": "NCHW", "scale": 0.02, "zero_point": -3}
        ],
        "outputs": [{"name": "logits", "shape": [1, 3], "dtype": "float32", "layout": None}],
        "validation": {
            "status": "ok",
            "samples": 4,
            "max_abs_diff": float("nan"),
            "cosine_similarity": 0.99,
            "inputs": "/home/me/secret/eval.npz (eval inputs)",
        },
        "accuracy": {
            "metric": "top1_accuracy",
            "source": 90.0,
            "artifact": 89.5,
            "drop": 0.5,
            "samples": 4,
            "data": "/home/me/secret/eval.npz",
        },
        "quantization": {
            "recipe": "r",
            "tool": "ort",
            "settings": {},
            "keep_float": [],
            "calibration": {
                "kind": "images",
                "path": "/home/me/secret/imgs",
                "samples": 8,
                "preprocess": {"scale": 0.5, "mean": [1, 2, 3], "std": [2, 2, 2]},
            },
        },
        "versions": {"onnxruntime": "1.31.1"},
    }
    manifest.update(overrides)
    return manifest


def _build(manifest: dict, labels=None, norm=Normalization()) -> dict:
    return build_metadata(
        manifest,
        name="m",
        version="1.0.0",
        model_file="m.onnx",
        labels=labels,
        labels_origin="labels.txt",
        normalization=norm,
        embedded=False,
    )


def test_the_schema_is_valid_and_a_document_satisfies_it():
    jsonschema.Draft202012Validator.check_schema(schema())
    document = json.loads(to_json(_build(_manifest(), labels=["a", "b", "c"])))
    jsonschema.validate(document, schema())
    assert document["inputs"][0]["quantization"] == {"scale": 0.02, "zero_point": -3}
    assert document["validation"]["max_abs_diff"] is None  # NaN has no JSON form
    assert document["task"] == "classification" and document["labels"] == ["a", "b", "c"]


def test_no_path_of_the_export_machine_travels_with_the_bundle():
    text = to_json(_build(_manifest())).decode()
    assert "/home/me" not in text and "secret" not in text
    assert json.loads(text)["accuracy"]["data"] == "eval.npz"


def test_normalization_comes_from_the_flags_else_the_calibration_preprocessing():
    from_calibration = _build(_manifest())["inputs"][0]["normalization"]
    assert (from_calibration["scale"], from_calibration["mean"], from_calibration["channel_axis"]) == (
        0.5,
        [1, 2, 3],
        1,
    )
    assert "calibrate" in from_calibration["source"]
    given = _build(_manifest(), norm=Normalization(scale=1 / 255, mean=(0.5,), std=(0.25,)))["inputs"][0][
        "normalization"
    ]
    assert (given["scale"], given["mean"], given["std"], given["source"]) == (
        1 / 255,
        [0.5],
        [0.25],
        "given to edgekit package",
    )
    plain = _build(_manifest(quantization=None))["inputs"][0]["normalization"]
    assert (plain["scale"], plain["mean"], plain["std"]) == (1.0, [0.0], [1.0])


@pytest.mark.parametrize(
    "norm, needle",
    [
        (Normalization(mean=(1.0, 2.0)), "--mean has 2 values"),
        (Normalization(std=(1.0, 0.0, 1.0)), "non-zero"),
        (Normalization(scale=0.0), "--scale"),
    ],
)
def test_bad_normalization_is_a_usage_error(norm: Normalization, needle: str):
    with pytest.raises(UsageError, match=needle):
        _build(_manifest(), norm=norm)


def test_a_labels_count_that_does_not_match_the_output_is_a_data_error():
    with pytest.raises(DataError, match="has 2 labels but output 'logits'"):
        _build(_manifest(), labels=["a", "b"])


@pytest.mark.parametrize(
    "content, needle",
    [(b"", "empty"), (b"\n\n", "empty"), (b"a\n\nb\n", "blank line at line 2"), (b"\xff\xfe\x00", "not UTF-8")],
)
def test_unusable_labels_files_are_data_errors(tmp_path: Path, content: bytes, needle: str):
    path = tmp_path / "labels.txt"
    path.write_bytes(content)
    with pytest.raises(DataError, match=needle):
        read_labels(path)


def test_labels_ignore_trailing_blank_lines_and_a_bom(tmp_path: Path):
    path = tmp_path / "labels.txt"
    path.write_bytes("\ufeffcat\r\ndog \n\n".encode())
    assert read_labels(path) == ["cat", "dog"]
    with pytest.raises(DataError, match="does not exist"):
        read_labels(tmp_path / "missing.txt")


def test_metadata_embedded_in_tflite_reads_back_and_keeps_outputs_identical(artifacts):
    original = artifacts[("digits", "tflite")].read_bytes()
    document = b'{"schema": "edgekit.model-metadata"}\n'
    embedded = tflite_metadata.embed(original, document)
    assert tflite_metadata.read(embedded) == document and tflite_metadata.read(original) is None
    assert tflite_metadata.read(tflite_metadata.embed(embedded, b"{}")) == b"{}"  # replaced, not duplicated
    tflite_metadata.check_same_outputs(original, embedded)
    assert np.frombuffer(embedded[4:8], np.uint8).tobytes() == b"TFL3"
