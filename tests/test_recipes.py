"""Quantization recipes as data: shipped files, defaults, lookups, user folders, the CLI listing."""

import json
from pathlib import Path

import pytest

from edge_kit import registry
from edge_kit.errors import UnsupportedError, UsageError
from edge_kit.recipes import _load_all, all_recipes, default_recipe, get_recipe, resolve
from tests.conftest import ROOT, run_cli


@pytest.fixture(autouse=True)
def _fresh_catalog():
    _load_all.cache_clear()
    yield
    _load_all.cache_clear()


def test_every_quantized_path_an_exporter_supports_has_exactly_one_default():
    from edge_kit.pipeline.stages import recipe_for

    for (framework, fmt), precisions in registry.pairs().items():
        route = registry.routes_for(framework, fmt)[0]
        for precision in (p for p in precisions if p != "fp32"):
            recipe = recipe_for(registry.get_format(fmt), route, precision, None)
            assert recipe is not None and recipe.format == fmt and recipe.precision == precision
            own = framework in recipe.sources  # else the format's own quantizer's recipe (ONNX from jax)
            assert (
                own
                or route.recipe_framework in recipe.sources  # a bridged route quantizes as its last framework
                or recipe.sources == (registry.get_format(fmt).artifact_recipe_framework,)
                or "onnx" in recipe.sources
            )


def test_shipped_recipes_carry_readable_names_and_settings():
    recipes = all_recipes()
    assert {
        "onnx_int8_static_qdq_per_channel_minmax",
        "xnnpack_pt2e_int8_static_per_channel",
        "tflite_int8_full_integer_int8_io",
    } <= set(recipes)
    onnx = recipes["onnx_int8_static_qdq_per_channel_minmax"]
    assert onnx.per_channel and onnx.calibration_method == "minmax" and onnx.calibration_samples == 200
    assert recipes["tflite_int8_full_integer_int8_io"].io_type == "int8"
    assert onnx.settings()["preprocess"]["scale"] == pytest.approx(1 / 255)
    for recipe in recipes.values():
        assert recipe.needs_calibration == (recipe.precision == "int8")


def test_unknown_recipe_lists_the_known_ones_and_the_closest():
    with pytest.raises(UsageError) as err:
        get_recipe("onnx_int8_static_qdq_per_channel_minmx")
    line = err.value.one_line()
    assert "did you mean 'onnx_int8_static_qdq_per_channel_minmax'" in line and "xnnpack_fp16" in line


@pytest.mark.parametrize(
    "name, fmt, precision, framework, needle",
    [
        ("xnnpack_pt2e_int8_static_per_channel", "onnx", "int8", "torch", "not torch → onnx"),
        ("tflite_int8_full_integer_int8_io", "tflite", "int8", "torch", "not torch → tflite"),
        ("onnx_int8_dynamic", "onnx", "int8", "torch", "pass --quantize int8-dynamic"),
    ],
)
def test_a_recipe_for_another_path_is_refused(name: str, fmt: str, precision: str, framework: str, needle: str):
    with pytest.raises(UsageError, match=needle):
        resolve(fmt, precision, framework, name)


def test_paths_without_a_recipe_name_the_ones_that_exist():
    assert resolve("onnx", "fp32", "torch", None) is None
    with pytest.raises(UnsupportedError, match="edgekit recipes"):
        default_recipe("ptl", "int8", "torch")


def _write(folder: Path, name: str, text: str) -> None:
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.toml").write_text(text)


def test_user_folder_adds_a_default_and_validates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    base = (ROOT / "quantize" / "onnx_int8_static_qdq_per_channel_percentile.toml").read_text()
    mine = base.replace('name = "onnx_int8_static_qdq_per_channel_percentile"', 'name = "my_onnx_int8"').replace(
        "calibration_samples = 200", "calibration_samples = 50\ndefault = true"
    )
    _write(tmp_path / "a", "my_onnx_int8", mine)
    monkeypatch.setenv("EDGEKIT_RECIPES_PATH", str(tmp_path / "a"))
    assert default_recipe("onnx", "int8", "torch").name == "my_onnx_int8"
    assert get_recipe("my_onnx_int8").calibration_samples == 50
    _write(
        tmp_path / "a",
        "bad",
        base.replace('name = "onnx_int8_static_qdq_per_channel_percentile"', 'name = "bad"\ncolour = "red"'),
    )
    _load_all.cache_clear()
    with pytest.raises(UsageError, match="unknown field"):
        all_recipes()


@pytest.mark.parametrize(
    "change, needle",
    [
        (('calibration_method = "percentile"', 'calibration_method = "histogram"'), "not available"),
        (("calibration_samples = 200", "calibration_samples = 0"), "need calibration_method"),
        (('format = "onnx"', 'format = "coreml"'), "format must be one of"),
        (("per_channel = true", 'per_channel = true\nio_type = "int8"'), "io_type"),
        (("per_channel = true", "per_channel = true\nequalize_streams = true"), "only source is torch"),
        (("per_channel = true", "per_channel = true\nequalize_activations = true"), "only source is torch"),
        (("per_channel = true", "per_channel = true\nbias_correction = true"), "only source is torch"),
        (("per_channel = true", "per_channel = false\nbias_correction = true"), "needs per_channel"),
    ],
)
def test_invalid_recipe_files_name_the_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: tuple[str, str], needle: str
):
    base = (ROOT / "quantize" / "onnx_int8_static_qdq_per_channel_percentile.toml").read_text()
    _write(
        tmp_path,
        "broken",
        base.replace('name = "onnx_int8_static_qdq_per_channel_percentile"', 'name = "broken"').replace(*change),
    )
    monkeypatch.setenv("EDGEKIT_RECIPES_PATH", str(tmp_path))
    with pytest.raises(UsageError, match=needle):
        all_recipes()


def test_recipes_command_lists_and_prints_one_json_document():
    table = run_cli("recipes")
    assert table.code == 0 and "* onnx_int8_static_qdq_per_channel_minmax" in table.stdout
    listed = json.loads(run_cli("recipes", "--json").stdout)
    assert {r["name"] for r in listed} == set(all_recipes())
    assert all({"format", "precision", "sources", "default", "settings"} <= set(r) for r in listed)
