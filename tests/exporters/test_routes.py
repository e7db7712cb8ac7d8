"""Ordered routes with fallback: the route used and why earlier ones failed are in the manifest;
--route forces one; `edgekit routes` lists them; ONNX and JAX sources reach more formats by bridges."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge_kit import registry
from tests.conftest import SAMPLES, assert_clean_error, run_cli


def test_routes_are_listed_in_order_with_bridges() -> None:
    result = run_cli("routes", "--json")
    assert result.code == 0
    rows = [(r["framework"], r["format"], r["route"]) for r in json.loads(result.stdout)]
    torch_onnx = [r for fw, f, r in rows if (fw, f) == ("torch", "onnx")]
    assert torch_onnx == ["torch-onnx-dynamo", "torch-onnx-legacy"]
    assert ("onnx", "executorch", "onnx2torch+torch-export-xnnpack") in rows
    assert ("jax", "executorch", "jax2onnx+onnx2torch+torch-export-xnnpack") in rows
    assert ("tflite", "onnx", "tf2onnx-tflite") in rows
    assert ("tensorflow", "executorch", "tf-onnx+onnx2torch+torch-export-xnnpack") in rows


def test_an_unknown_pair_names_the_pairs_that_exist() -> None:
    from edge_kit.errors import UnsupportedError

    with pytest.raises(UnsupportedError, match=r"supported:.*tensorflow → tflite"):
        registry.check_pair("tensorflow", "ptl", "fp32")


def test_keras_normalization_constants_fall_back_to_tf2onnx(tmp_path: Path) -> None:
    """Keras' own ONNX export leaves a Normalization layer's constants as graph inputs (the
    artifact does not run); tf2onnx's Keras entry freezes them. Both attempts are recorded."""
    import keras
    import numpy as np

    norm = keras.layers.Normalization(mean=np.full(3, 0.5), variance=np.full(3, 0.25))
    model = keras.Sequential([keras.Input((8, 8, 3)), norm, keras.layers.Conv2D(4, 3), keras.layers.Flatten()])
    model.save(tmp_path / "norm.keras")
    result = run_cli("export", tmp_path / "norm.keras", "-f", "onnx", "-o", tmp_path / "n.onnx", "--json")
    manifest = json.loads(result.stdout)
    assert result.code == 0 and manifest["status"] == "ok", result.stderr[-1500:]
    failed = manifest["artifact"].get("routes_failed") or []
    assert manifest["artifact"]["route"] in ("tf2onnx-keras", "tf2onnx")
    assert failed[0]["route"] == "keras-export-onnx" and "does not run" in failed[0]["error"]


def test_a_forced_route_is_the_only_one_tried(tmp_path: Path) -> None:
    keras = SAMPLES / "digits_cnn.keras"
    out = tmp_path / "k.tflite"
    result = run_cli("export", keras, "-f", "tflite", "--route", "tflite-converter-fixed-shape", "-o", out, "--json")
    assert result.code == 0 and json.loads(result.stdout)["artifact"]["route"] == "tflite-converter-fixed-shape"
    assert_clean_error(run_cli("export", keras, "-f", "tflite", "--route", "nope", "-o", out), 2, "no route 'nope'")


def test_onnx_and_jax_sources_reach_executorch(tmp_path: Path) -> None:
    onnx_model = tmp_path / "cnn.onnx"
    run_cli("export", SAMPLES / "digits_cnn.pt2", "-f", "onnx", "-o", onnx_model)
    # jaxexport: jax2tf → TFLite → tf2onnx (its shape arithmetic folded) → onnx2torch. A JAX
    # checkpoint's jax2onnx half is tests/bridges/test_jax_convert.py; the onnx2torch half is the ONNX case.
    jax_source = (SAMPLES / "digits_flax.jaxexport", "x.pte")
    # Keras → its ONNX routes → onnx2torch: tests/exporters/test_source_routes.py
    for source, out in ((onnx_model, "o.pte"), jax_source):
        result = run_cli("export", source, "-f", "executorch", "-o", tmp_path / out, "--json")
        assert result.code == 0, result.stderr[-1500:]
        manifest = json.loads(result.stdout)
        assert manifest["status"] == "ok" and "onnx2torch" in manifest["artifact"]["route"]
        assert manifest["validation"]["max_abs_diff"] < 1e-4  # against the original ONNX / JAX / Keras


def test_a_jax_checkpoint_with_its_factory_exports_from_the_command_line(tmp_path: Path) -> None:
    factory = ["--model-class", "sample_models.digits_flax:make_model"]
    result = run_cli(
        "export", SAMPLES / "digits_flax.msgpack", "-f", "onnx", *factory, "-o", tmp_path / "j.onnx", "--json"
    )
    assert result.code == 0, result.stderr[-1500:]
    manifest = json.loads(result.stdout)
    assert manifest["status"] == "ok" and manifest["validation"]["max_abs_diff"] < 1e-4
