"""Calibration data: files, image folders with preprocessing, explicit random; bad data fails cleanly."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edge_kit.calibration import image_batches, load_calibration, merge_preprocess
from edge_kit.errors import DataError, UsageError
from edge_kit.recipes import Preprocess, get_recipe
from edge_kit.signature import TensorSpec
from tests.conftest import assert_clean_error, run_cli, snapshot

STATIC = get_recipe("onnx_int8_static_qdq_per_channel_minmax")
NCHW = [TensorSpec("x", (1, 3, 6, 4), layout="NCHW")]


def _images(folder: Path, count: int, size: tuple[int, int] = (8, 12), mode: str = "RGB") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(count):
        pixels = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
        Image.fromarray(pixels).convert(mode).save(folder / f"img{i}.png")
    return folder


def test_npz_calibration_uses_the_recipe_sample_count(tmp_path: Path):
    np.savez(tmp_path / "c.npz", x=np.random.default_rng(0).random((250, 3, 6, 4), dtype=np.float32))
    cal = load_calibration(tmp_path / "c.npz", NCHW, STATIC)
    assert len(cal.batches) == 200 and cal.batches[0][0].shape == (1, 3, 6, 4)
    assert cal.description == {"kind": "file", "path": str(tmp_path / "c.npz"), "samples": 200}
    assert len(load_calibration(tmp_path / "c.npz", NCHW, STATIC, samples=7).batches) == 7


def test_random_calibration_only_by_name_and_says_so():
    cal = load_calibration("random", NCHW, STATIC, samples=3)
    assert cal.description["kind"] == "random" and "not representative" in cal.description["warning"]
    with pytest.raises(UsageError, match="needs calibration data"):
        load_calibration(None, NCHW, STATIC)


def test_calibration_for_a_recipe_that_takes_none_is_refused(tmp_path: Path):
    with pytest.raises(UsageError, match="uses no calibration data"):
        load_calibration("random", NCHW, get_recipe("onnx_int8_dynamic"))
    assert load_calibration(None, NCHW, None) is None


def test_image_folder_is_resized_cropped_normalised_in_the_input_layout(tmp_path: Path):
    folder = _images(tmp_path / "imgs", 3)
    pre = merge_preprocess(Preprocess(), {"mean": (0.5,), "std": (0.25,), "resize": None})
    batches = image_batches(folder, NCHW, pre, limit=10)
    assert len(batches) == 3 and batches[0][0].shape == (1, 3, 6, 4) and batches[0][0].dtype == np.float32
    first = np.asarray(Image.open(folder / "img0.png").convert("RGB").resize((6, 9), Image.Resampling.BILINEAR))
    expected = (first[1:7, 1:5].astype(np.float32) / 255 - 0.5) / 0.25  # centre 6x4 of the 6-wide resize
    np.testing.assert_allclose(batches[0][0][0].transpose(1, 2, 0), expected, atol=1e-5)
    nhwc = image_batches(folder, [TensorSpec("x", (1, 6, 4, 1), layout="NHWC")], Preprocess(), limit=2)
    assert len(nhwc) == 2 and nhwc[0][0].shape == (1, 6, 4, 1) and nhwc[0][0].max() <= 1.0


def test_preprocess_flags_are_checked():
    with pytest.raises(UsageError, match="--std must be non-zero"):
        merge_preprocess(Preprocess(), {"std": (0.0,)})
    with pytest.raises(UsageError, match="1 or 3 values"):
        image_batches(Path(__file__).parent, NCHW, merge_preprocess(Preprocess(), {"mean": (0.1, 0.2)}), 1)


def test_unreadable_image_is_one_data_error(tmp_path: Path):
    folder = _images(tmp_path / "imgs", 2)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(DataError, match=r"cannot read image broken\.jpg"):
        image_batches(folder, NCHW, Preprocess(), limit=10)


@pytest.fixture
def bad_data(tmp_path: Path) -> dict[str, Path]:
    """Calibration inputs that must each fail with one clear line (the tiny CNN takes 1x1x8x8)."""
    good = np.random.default_rng(0).random((20, 1, 8, 8), dtype=np.float32)
    nan, inf = good.copy(), good.copy()
    nan[3, 0, 2, 2], inf[5, 0, 1, 1] = np.nan, np.inf
    paths = {
        "wrong-shape": tmp_path / "shape.npz",
        "nan": tmp_path / "nan.npz",
        "inf": tmp_path / "inf.npy",
        "empty-folder": tmp_path / "empty",
        "unreadable-image": tmp_path / "broken",
    }
    np.savez(paths["wrong-shape"], x=good[:, :, :4, :])
    np.savez(paths["nan"], x=nan)
    np.save(paths["inf"], inf)
    paths["empty-folder"].mkdir()
    _images(paths["unreadable-image"], 2, mode="L")
    (paths["unreadable-image"] / "zz.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    return paths


@pytest.mark.parametrize(
    "case, code, needle",
    [
        ("wrong-shape", 7, "samples of shape [1, 4, 8]"),
        ("nan", 7, "NaN or inf"),
        ("inf", 7, "NaN or inf"),
        ("empty-folder", 7, "holds no images"),
        ("unreadable-image", 7, "cannot read image zz.png"),
        ("missing", 2, "needs calibration data"),
    ],
)
def test_bad_calibration_gives_one_clear_error_and_leaves_nothing(
    tiny: dict, tmp_path: Path, bad_data: dict, case: str, code: int, needle: str
):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("already here")
    before = snapshot(out)
    args = [] if case == "missing" else ["--calibration", bad_data[case]]
    result = run_cli("export", tiny["cnn.pt2"], "--format", "onnx", "--quantize", "int8", *args, "-o", out / "m.onnx")
    assert_clean_error(result, code, needle)
    assert snapshot(out) == before


def test_an_image_folder_calibrates_a_real_export(tiny: dict, tmp_path: Path):
    from edge_kit.pipeline import ExportRequest, export

    folder = _images(tmp_path / "imgs", 12, size=(20, 16))
    result = export(
        ExportRequest(
            model=tiny["cnn.pt2"],
            format="onnx",
            precision="int8",
            calibration=folder,
            preprocess={"mean": (0.5,), "std": (0.5,)},
            output=tmp_path / "m.onnx",
        )
    )
    calibration = result.manifest["quantization"]["calibration"]
    assert calibration["kind"] == "images" and calibration["samples"] == 12
    assert (
        calibration["preprocess"]["mean"] == [0.5] and result.manifest["validation"]["inputs"] == "calibration inputs"
    )
