"""Issue 2's done-criteria on the real sample models and MobileNetV2."""

import json
from pathlib import Path

import pytest

from tests.conftest import SAMPLES, run_cli
from tests.exporters.conftest import export_ok


def test_digits_torchscript_exports_for_raspi_by_default(tmp_path: Path):
    out = tmp_path / "digits.tflite"
    result = run_cli("export", SAMPLES / "digits_cnn.pt", "--target", "raspi", "-o", out, "--json")
    assert result.code == 0, result.stderr[-2000:]
    manifest = json.loads(result.stdout)
    assert manifest["artifact"]["format"] == "tflite" and manifest["status"] == "ok"
    assert manifest["target"]["name"] == "raspi4" and out.with_name("digits.tflite.json").is_file()
    assert manifest["validation"]["max_abs_diff"] <= 1e-4


SUFFIX = {"onnx": ".onnx", "tflite": ".tflite", "executorch": ".pte", "ptl": ".ptl"}
# Every path that exists (Keras → ExecuTorch/ptl does not; tests/exporters/test_formats.py checks that error).
CASES = [(m, f) for m in ("digits_cnn.pt", "digits_cnn.pt2") for f in SUFFIX] + [
    ("digits_cnn.keras", "onnx"),
    ("digits_cnn.keras", "tflite"),
]


@pytest.mark.parametrize("model, fmt", CASES)
def test_digits_samples_export_where_the_path_exists(tmp_path: Path, model: str, fmt: str):
    suffix = SUFFIX[fmt]
    eval_set = "digits_eval_nhwc.npz" if model.endswith(".keras") else "digits_eval.npz"
    result = export_ok(
        SAMPLES / model, fmt, tmp_path / f"digits{suffix}", sample_inputs=SAMPLES / eval_set, num_samples=20
    )
    assert result.manifest["validation"]["max_abs_diff"] <= 1e-4
    assert result.manifest["validation"]["top1_agreement"] == 1.0


@pytest.fixture(scope="module")
def mobilenet_v2_random(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch

    from sample_models.mobilenet import mobilenet_v2

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("mnv2") / "mobilenet_v2_random.pt2"
    model = mobilenet_v2(pretrained=False).eval()
    torch.export.save(torch.export.export(model, (torch.rand(1, 3, 224, 224),)), path)
    return path


@pytest.mark.parametrize("fmt, suffix", [("onnx", ".onnx"), ("tflite", ".tflite"), ("executorch", ".pte")])
def test_mobilenet_v2_exports_ok(mobilenet_v2_random: Path, tmp_path: Path, fmt: str, suffix: str):
    result = export_ok(mobilenet_v2_random, fmt, tmp_path / f"mnv2{suffix}", num_samples=3)
    assert result.manifest["inputs"][0]["shape"] == [1, 3, 224, 224]
