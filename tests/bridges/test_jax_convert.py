"""JAX → TFLite (jax2tf) and JAX → ONNX (jax2onnx, or jax2tf → TFLite → tf2onnx) on the Flax
digits sample and on a function with a dynamic batch, run in LiteRT and onnxruntime."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

jax = pytest.importorskip("jax")
pytest.importorskip("flax")
pytest.importorskip("jax2onnx")

import jax.numpy as jnp  # noqa: E402
import onnx  # noqa: E402

from edge_kit.bridges import jax_convert  # noqa: E402
from edge_kit.errors import ExportError  # noqa: E402
from edge_kit.exporters.base import ExportOptions  # noqa: E402
from edge_kit.exporters.onnx import OnnxRunner  # noqa: E402
from edge_kit.exporters.tflite import TfliteRunner  # noqa: E402
from edge_kit.models import jax_files, jax_models  # noqa: E402
from edge_kit.recipes import get_recipe  # noqa: E402
from edge_kit.signature import TensorSpec  # noqa: E402
from sample_models import load_npz, sample_path  # noqa: E402

FACTORY = "sample_models.digits_flax:make_model"
FP32_TOLERANCE = 1e-4
INT8_RECIPES = {"tflite": "tflite_int8_full_integer_float_io", "onnx": "onnx_int8_static_qdq_per_channel_minmax"}


@pytest.fixture(scope="module")
def digits() -> dict[str, np.ndarray]:
    return {**load_npz("digits_eval_nhwc.npz"), "calibration": load_npz("digits_calib_nhwc.npz")["x"]}


@pytest.fixture(scope="module")
def sources(digits: dict) -> dict[str, tuple[jax_models.JaxSource, np.ndarray]]:
    """The sample as a jax.export artifact and as a checkpoint + factory, with JAX's logits."""
    out = {}
    for name, path in (("export", "digits_flax.jaxexport"), ("checkpoint", "digits_flax.msgpack")):
        source = jax_files.load_jax(sample_path(path), model_class=FACTORY)
        out[name] = (source, source.run([digits["x"]])[0])
    return out


def _logits(path: Path, x: np.ndarray) -> np.ndarray:
    if path.suffix == ".tflite":
        runner = TfliteRunner(path)  # static batch 1, as exported for the edge
        return np.concatenate([runner.run([row[None]])[0] for row in x])
    return OnnxRunner(path).run([x])[0]  # the whole held-out set in one dynamic batch


def _export(source: jax_models.JaxSource, dest: Path, options: ExportOptions, route: str | None = None) -> dict:
    """The export's conversion step: the first route that takes the source (or the one named)."""
    from edge_kit.pipeline.stages import build
    from edge_kit.registry import get_format, routes_for

    fmt = dest.suffix.removeprefix(".")
    routes = [r for r in routes_for("jax", fmt) if r.takes(source) and route in (None, r.name)]
    return build(get_format(fmt), routes[0], source, dest, options)


@pytest.mark.parametrize("kind", ["export", "checkpoint"])
@pytest.mark.parametrize("fmt", ["tflite", "onnx"])
def test_fp32_matches_jax(sources: dict, digits: dict, tmp_path: Path, kind: str, fmt: str) -> None:
    source, reference = sources[kind]
    facts = _export(source, tmp_path / f"digits.{fmt}", ExportOptions())
    logits = _logits(tmp_path / f"digits.{fmt}", digits["x"])
    assert np.abs(logits - reference).max() <= FP32_TOLERANCE
    if fmt == "onnx":  # jax2onnx traces the function; a deserialized artifact takes the TFLite fallback
        assert facts["onnx_route"] == (jax_convert.ROUTE_VIA_TFLITE if kind == "export" else jax_convert.ROUTE_JAX2ONNX)
        assert facts["input_dims"] == [["b", 8, 8, 1]]


@pytest.mark.parametrize(("kind", "fmt"), [("checkpoint", "tflite"), ("checkpoint", "onnx"), ("export", "onnx")])
def test_int8_costs_at_most_a_point(sources: dict, digits: dict, tmp_path: Path, kind: str, fmt: str) -> None:
    source, reference = sources[kind]
    options = ExportOptions(
        precision="int8",
        recipe=get_recipe(INT8_RECIPES[fmt]),
        calibration=[[row[None]] for row in digits["calibration"]],
        workdir=tmp_path / "work",
    )
    options.workdir.mkdir()
    dest = tmp_path / f"digits_int8.{fmt}"
    _export(source, dest, options)
    jax_accuracy = (reference.argmax(1) == digits["y"]).mean()
    accuracy = (_logits(dest, digits["x"]).argmax(1) == digits["y"]).mean()
    assert jax_accuracy - accuracy <= 0.01, (jax_accuracy, accuracy)
    assert dest.stat().st_size < 0.3 * sources["checkpoint"][0].path.stat().st_size  # int8 weights


def mlp(params: dict, x: jax.Array) -> jax.Array:
    hidden = jax.nn.relu(x @ params["w1"] + params["b1"])
    return jax.nn.softmax(hidden @ params["w2"])


@pytest.fixture(scope="module")
def dynamic_mlp() -> tuple[jax_models.JaxSource, dict]:
    rng = np.random.default_rng(0)
    params = {
        "w1": rng.standard_normal((16, 32)).astype(np.float32),
        "b1": rng.standard_normal(32).astype(np.float32),
        "w2": rng.standard_normal((32, 5)).astype(np.float32),
    }
    return jax_models.from_function(
        mlp, params, [TensorSpec("features", (None, 16))], input_names=["features"]
    ).resolve(), params


@pytest.mark.parametrize("route", [jax_convert.ROUTE_JAX2ONNX, jax_convert.ROUTE_VIA_TFLITE])
def test_dynamic_batch_survives_into_onnx(dynamic_mlp: tuple, tmp_path: Path, route: str) -> None:
    source, params = dynamic_mlp
    dest = tmp_path / "mlp.onnx"
    facts = _export(source, dest, ExportOptions(), route=route)
    assert facts["onnx_route"] == route
    dims = onnx.load(str(dest)).graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "b" and not dims[0].dim_value and dims[1].dim_value == 16
    runner = OnnxRunner(dest)
    for batch in (1, 5):
        x = np.random.default_rng(batch).random((batch, 16), dtype=np.float32)
        out = runner.run([x])[0]
        assert out.shape == (batch, 5)
        np.testing.assert_allclose(out, mlp(params, jnp.asarray(x)), atol=1e-5)


def test_a_deserialized_artifact_cannot_take_the_jax2onnx_route(sources: dict, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="call_exported") as info:
        jax_convert.onnx_fp32(sources["export"][0], tmp_path / "x.onnx", route="jax2onnx")
    assert info.value.exit_code == 5 and not (tmp_path / "x.onnx").exists()


def test_an_op_tflite_lacks_is_one_export_error(tmp_path: Path) -> None:
    source = jax_models.from_function(lambda x: jnp.sort(x, axis=-1), example_inputs=[np.zeros((1, 8), np.float32)])
    with pytest.raises(ExportError, match="sort") as info:
        jax_convert.export_tflite(source.resolve(), tmp_path / "sort.tflite", ExportOptions())
    assert info.value.exit_code == 5 and "\n" not in str(info.value) and not (tmp_path / "sort.tflite").exists()
