"""Format × precision pairs that do not exist fail with the pairs that do (exit 4), before writing."""

from pathlib import Path

import pytest

from tests.conftest import assert_clean_error, run_cli, snapshot


@pytest.mark.parametrize(
    "model, fmt, precision, needle",
    [
        ("cnn.pt2", "ptl", "int8", "torch → ptl (fp32)"),
        ("cnn.pt2", "ptl", "fp16", "no conversion path torch → ptl at fp16"),
        ("cnn.keras", "ptl", "int8-dynamic", "no conversion path tensorflow → ptl"),
    ],
)
def test_impossible_quantized_paths_name_the_ones_that_exist(
    tiny: dict, tmp_path: Path, model: str, fmt: str, precision: str, needle: str
):
    before = snapshot(tmp_path)
    result = run_cli("export", tiny[model], "--format", fmt, "--quantize", precision, "-o", tmp_path / f"m.{fmt}")
    assert_clean_error(result, 4, needle)
    assert snapshot(tmp_path) == before
