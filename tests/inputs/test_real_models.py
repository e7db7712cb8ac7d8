"""Real models' inputs end to end: silero-vad (three inputs, a 0-d int64 sample rate, a
TorchScript `int sr`), nudenet's YOLOv8n (dynamic batch/height/width), and a transformers
BERT with a dynamic sequence length — export, validate, profile."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import assert_clean_error, run_cli

VAD_SPECS = ["--input-spec", "input=1,512", "--input-spec", "state=2,1,128", "--input-spec", "sr=:int64:16000"]


def _wheel_file(package: str, *parts: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        pytest.skip(f"{package} is not installed (make zoo-deps)")
    return Path(spec.origin).parent.joinpath(*parts)


@pytest.fixture(scope="module")
def bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A BERT from a small config (random weights), two int64 inputs, sequence dynamic in 8..128."""
    import torch
    import transformers

    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=500, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64
    )

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = transformers.BertModel(config).eval()

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    seq = torch.export.Dim("seq", min=8, max=128)
    ids, mask = torch.randint(0, 500, (1, 32)), torch.ones(1, 32, dtype=torch.int64)
    program = torch.export.export(Encoder().eval(), (ids, mask), dynamic_shapes=({1: seq}, {1: seq}))
    path = tmp_path_factory.mktemp("bert") / "bert.pt2"
    torch.export.save(program, path)
    return path


def _manifest(result) -> dict:
    assert result.code == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


def test_silero_vad_onnx_three_inputs_export_quantize_profile(tmp_path: Path) -> None:
    model = _wheel_file("silero_vad", "data", "silero_vad.onnx")
    manifest = _manifest(run_cli("export", model, "-f", "onnx", *VAD_SPECS, "-o", tmp_path / "vad.onnx", "--json"))
    assert manifest["status"] == "ok" and manifest["validation"]["max_abs_diff"] <= 1e-5
    sr = manifest["source_inputs"][2]
    assert (sr["shape"], sr["kind"], sr["value"]) == ([], "const", 16000.0)
    q = run_cli(
        "export",
        model,
        "-f",
        "onnx",
        "--quantize",
        "int8",
        *VAD_SPECS,
        "--calibration",
        "random",
        "-o",
        tmp_path / "vad8.onnx",
    )
    assert q.code in (0, 6) and (tmp_path / "vad8.onnx").is_file(), q.stderr[-2000:]
    report = _manifest(
        run_cli(
            "profile",
            tmp_path / "vad.onnx",
            "--target",
            "raspi",
            "--num_runs",
            "1",
            "--count-runs",
            "1",
            "--json",
            timeout=1800,
        )
    )
    assert [i["shape"] for i in report["inputs"]] == [[1, 512], [2, 1, 128], []]
    assert report["estimate"] and report["latency"]["kind"] == "emulated"


def test_silero_vad_without_the_sample_rate_says_what_to_pass(tmp_path: Path) -> None:
    model = _wheel_file("silero_vad", "data", "silero_vad.onnx")
    result = run_cli(
        "export",
        model,
        "-f",
        "onnx",
        "--input-spec",
        "input=1,512",
        "--input-spec",
        "state=2,1,128",
        "-o",
        tmp_path / "v.onnx",
    )
    assert_clean_error(result, 2, "--input-spec sr=:int64:16000")
    old = run_cli("export", model, "-f", "onnx", "--input-shape", "", "-o", tmp_path / "v.onnx")
    assert_clean_error(old, 2, "--input-spec")
    assert list(tmp_path.iterdir()) == []


def test_silero_vad_torchscript_binds_the_sample_rate(tmp_path: Path) -> None:
    model = _wheel_file("silero_vad", "data", "silero_vad.jit")
    spec = ["--input-spec", "x=1,512", "--input-spec", "sr=::16000"]
    manifest = _manifest(run_cli("export", model, "-f", "ptl", *spec, "-o", tmp_path / "vad.ptl", "--json"))
    assert manifest["status"] == "ok" and manifest["source_inputs"][1]["value"] == 16000.0
    onnx = run_cli("export", model, "-f", "onnx", *spec, "-o", tmp_path / "vad.onnx")
    assert_clean_error(onnx, 5, "prim::If", "torch-onnx-legacy")  # every route named, with why it failed


def test_bert_dynamic_sequence_stays_dynamic_and_is_validated_at_three_lengths(bert: Path, tmp_path: Path) -> None:
    for fmt, suffix in (("onnx", ".onnx"), ("executorch", ".pte")):
        manifest = _manifest(run_cli("export", bert, "-f", fmt, "-o", tmp_path / f"b{suffix}", "--json"))
        assert manifest["status"] == "ok", manifest["validation"]
        (name,) = manifest["dynamic_dims"]
        assert manifest["dynamic_dims"][name] == {"min": 8, "max": 128}
        assert [c["dims"][name] for c in manifest["validation"]["sizes"]] == [8, 68, 128]
        assert all(c["status"] == "ok" for c in manifest["validation"]["sizes"])
        ids, mask = manifest["source_inputs"]
        assert (ids["kind"], ids["high"], mask["kind"]) == ("tokens", 500.0, "mask")
    tflite = run_cli("export", bert, "-f", "tflite", "-o", tmp_path / "b.tflite")
    assert_clean_error(tflite, 5, f"--dim {name}=128")
    fixed = _manifest(
        run_cli("export", bert, "-f", "tflite", "--dim", f"{name}=64", "-o", tmp_path / "b.tflite", "--json")
    )
    assert fixed["status"] == "ok" and fixed["inputs"][0]["shape"] == [1, 64] and "dynamic_dims" not in fixed


def test_int8_calibration_uses_ids_inside_the_vocabulary(bert: Path) -> None:
    from edge_kit.calibration import load_calibration
    from edge_kit.models import load_model
    from edge_kit.recipes import get_recipe

    source = load_model(bert)
    calibration = load_calibration(
        "random", source.inputs, get_recipe("onnx_int8_static_qdq_per_channel_minmax"), 20, {}
    )
    ids = np.stack([b[0] for b in calibration.batches])
    masks = np.stack([b[1] for b in calibration.batches])
    assert ids.max() < 500 and len(np.unique(ids)) > 100 and set(np.unique(masks)) == {0, 1}


@pytest.mark.slow
def test_nudenet_yolov8n_exported_and_raw_profile_on_raspi_with_an_estimate(tmp_path: Path) -> None:
    """The dynamic model says which size to pass, exports at it, and the raw model profiles at the
    shape of the given input with its instructions counted and a device estimate."""
    model = _wheel_file("nudenet", "320n.onnx")
    hint = run_cli("export", model, "-f", "onnx", "-o", tmp_path / "n.onnx")
    assert_clean_error(hint, 2, "--dim height=320")  # the model's own image size, from its metadata
    exported = _manifest(
        run_cli("export", model, "--input-shape", "1,3,320,320", "-f", "onnx", "-o", tmp_path / "n.onnx", "--json")
    )
    assert exported["status"] == "ok" and exported["inputs"][0]["shape"] == [1, 3, 320, 320]
    np.savez(tmp_path / "in.npz", images=np.random.default_rng(0).random((1, 3, 320, 320), dtype=np.float32))
    raw = run_cli(
        "profile",
        model,
        "--target",
        "raspi",
        "--input",
        tmp_path / "in.npz",
        "--num_runs",
        "1",
        "--warmup_runs",
        "0",
        "--count-runs",
        "1",
        "--json",
        timeout=2400,
    )
    report = _manifest(raw)
    assert report["inputs"][0]["shape"] == [1, 3, 320, 320]
    assert report["estimate"] and report["instructions"]


def test_debug_works_after_the_subcommand(tmp_path: Path) -> None:
    result = run_cli("export", tmp_path / "missing.pt2", "-f", "onnx", "--debug")
    assert result.code == 3 and "No such option" not in result.stderr and "Traceback" in result.stderr
