"""The profiling harness, run for real inside the emulated raspi targets (and once on the host).

Models are made here: a small CNN exported with torch.onnx.export, a small Keras
CNN converted to TFLite (fp32 and full int8), and an int8 MLP (ORT quantize_dynamic).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edge_kit.emulation.environment import GuestEnvironment, guest_environment, harness_path
from edge_kit.errors import RuntimeFailure

pytestmark = [
    pytest.mark.timeout(900),
    pytest.mark.skipif(
        not (shutil.which("qemu-aarch64") and shutil.which("mmdebstrap")),
        reason="needs apt packages qemu-user and mmdebstrap",
    ),
]


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """cnn.onnx, mlp_int8.onnx, cnn.tflite, cnn_int8.tflite and inputs.npz."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from tests.tiny_models import TinyCNN

    folder = tmp_path_factory.mktemp("harness-models")
    torch.manual_seed(0)
    torch.onnx.export(
        TinyCNN().eval(),
        (torch.rand(1, 1, 8, 8),),
        str(folder / "cnn.onnx"),
        dynamo=False,
        input_names=["x"],
        output_names=["logits"],
    )
    mlp = torch.nn.Sequential(*[torch.nn.Linear(256, 256) for _ in range(4)]).eval()
    torch.onnx.export(mlp, (torch.rand(32, 256),), str(folder / "mlp.onnx"), dynamo=False, input_names=["x"])
    quantize_dynamic(str(folder / "mlp.onnx"), str(folder / "mlp_int8.onnx"), weight_type=QuantType.QInt8)
    _tflite(folder)
    np.savez(folder / "inputs.npz", x=np.random.default_rng(1).random((1, 1, 8, 8), dtype=np.float32))
    return {p.name: p for p in folder.iterdir()}


def _tflite(folder: Path) -> None:
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    net = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            keras.layers.Conv2D(16, 3, activation="relu"),
            keras.layers.Conv2D(32, 3, activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(10),
        ]
    )
    (folder / "cnn.tflite").write_bytes(tf.lite.TFLiteConverter.from_keras_model(net).convert())
    rng = np.random.default_rng(0)
    conv = tf.lite.TFLiteConverter.from_keras_model(net)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([rng.random((1, 32, 32, 3), dtype=np.float32)] for _ in range(8))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = conv.inference_output_type = tf.int8
    (folder / "cnn_int8.tflite").write_bytes(conv.convert())


@pytest.fixture(scope="module")
def raspi5() -> GuestEnvironment:
    return guest_environment("raspi5")


def _run(env: GuestEnvironment, model: Path, out: Path, *args: str, **kwargs: object) -> dict:
    env.run_harness(["--model", str(model), "--out", str(out), *args], timeout_s=300, **kwargs)
    return json.loads(out.read_text())


def test_onnx_report_in_the_emulated_raspi5(raspi5: GuestEnvironment, models: dict[str, Path], tmp_path: Path) -> None:
    r = _run(
        raspi5,
        models["cnn.onnx"],
        tmp_path / "r.json",
        "--num_threads",
        "4",
        "--num_runs",
        "6",
        "--warmup_runs",
        "2",
        "--profile-ops",
    )
    assert r["ok"] and r["emulator"] == "qemu-user" and r["target"] == "raspi5"
    assert r["runtime"] == {"name": "onnxruntime", "version": "1.31.1", "num_threads": 4}
    runs = r["timing"]["runs"]
    assert runs["count"] == 6 == len(r["timing"]["latencies_ms"]) == r["timing"]["counted_runs"]
    assert r["timing"]["thread_cpu"]["count"] == 6 and r["timing"]["thread_cpu"]["min_ms"] > 0
    assert set(runs) == {"count", "mean_ms", "std_ms", "min_ms", "max_ms", "p50_ms", "p90_ms", "p99_ms"}
    assert 0 < runs["min_ms"] <= runs["p50_ms"] <= runs["p90_ms"] <= runs["p99_ms"] <= runs["max_ms"]
    assert r["timing"]["load_ms"] > 0 and r["timing"]["first_inference_ms"] > 0
    mem = r["memory"]
    assert mem["peak_rss_kb"] >= mem["rss_runtime_kb"] > mem["rss_start_kb"] > 0
    assert mem["peak_over_runtime_kb"] == mem["peak_rss_kb"] - mem["rss_runtime_kb"]
    assert r["model"]["size_bytes"] == models["cnn.onnx"].stat().st_size
    assert r["inputs"] == [{"name": "x", "shape": [1, 1, 8, 8], "dtype": "float32", "source": "random(seed=0)"}]
    assert r["outputs"][0]["name"] == "logits" and r["outputs"][0]["shape"] == [1, 10]
    assert r["machine"]["machine"] == "aarch64" and r["machine"]["cpu"]["parts"] == ["0xd0b"]
    assert "asimddp" in r["machine"]["cpu"]["features"] and r["machine"]["cpu_count"] == 4
    ops = r["ops"]
    assert ops["available"] and {"Conv", "FusedConv"} & {row["op"] for row in ops["by_op_type"]}
    assert abs(sum(row["share"] for row in ops["by_op_type"]) - 1) < 1e-6
    assert ops["memory"]["parameter_bytes"] > 0 and ops["memory"]["arena_held_max_bytes"] > 0


def test_guest_outputs_match_the_host(raspi5: GuestEnvironment, models: dict[str, Path], tmp_path: Path) -> None:
    import onnxruntime as ort

    r = _run(
        raspi5,
        models["cnn.onnx"],
        tmp_path / "r.json",
        "--input",
        str(models["inputs.npz"]),
        "--num_runs",
        "1",
        "--save-outputs",
        str(tmp_path / "out.npz"),
    )
    assert r["inputs"][0]["source"] == "npz"
    guest = np.load(tmp_path / "out.npz")["arr_0"]
    host = ort.InferenceSession(str(models["cnn.onnx"])).run(None, dict(np.load(models["inputs.npz"])))[0]
    np.testing.assert_allclose(guest, host, atol=1e-5)


def test_tflite_report(raspi5: GuestEnvironment, models: dict[str, Path], tmp_path: Path) -> None:
    r = _run(raspi5, models["cnn.tflite"], tmp_path / "r.json", "--num_runs", "3", "--profile-ops")
    assert r["ok"] and r["runtime"]["name"] == "litert" and r["runtime"]["version"] == "2.3.0"
    assert r["inputs"][0]["shape"] == [1, 32, 32, 3] and r["outputs"][0]["shape"] == [1, 10]
    static = r["memory"]["runtime_static"]
    assert static["tensor_bytes_total"] > 0 and static["xnnpack_delegate"] is True
    assert r["ops"]["available"] is False and "per-operator timings not available" in r["ops"]["note"]
    assert r["ops"]["op_types"].get("DELEGATE") == 1
    assert r["timing"]["runs"]["count"] == 3


def test_markers_wrap_only_the_counted_timed_runs(
    raspi5: GuestEnvironment, models: dict[str, Path], tmp_path: Path
) -> None:
    result = raspi5.run_harness(
        [
            "--model",
            str(models["cnn.tflite"]),
            "--out",
            str(tmp_path / "r.json"),
            "--warmup_runs",
            "2",
            "--num_runs",
            "5",
            "--count-runs",
            "3",
        ],
        timeout_s=300,
        extra_qemu_args=["-strace"],
    )
    marks = re.findall(r"lseek\(32476,(\d),SEEK_SET\)", result.stderr)
    assert marks == ["1", "2"] * 3
    assert json.loads((tmp_path / "r.json").read_text())["timing"]["counted_runs"] == 3


def test_max_secs_stops_the_timed_runs(raspi5: GuestEnvironment, models: dict[str, Path], tmp_path: Path) -> None:
    r = _run(raspi5, models["cnn.onnx"], tmp_path / "r.json", "--num_runs", "100000", "--max_secs", "0.5")
    assert r["timing"]["stopped_by"] == "max_secs" and 1 <= r["timing"]["runs"]["count"] < 100000


def test_broken_model_fails_cleanly_while_loading(raspi5: GuestEnvironment, tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07" + os.urandom(200))
    with pytest.raises(RuntimeFailure) as info:
        raspi5.run_harness(["--model", str(bad), "--out", str(tmp_path / "r.json")], timeout_s=120)
    assert info.value.message.startswith("the emulated runtime failed with exit code 3 while loading bad.onnx")
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["ok"] is False and report["error"]["exit_code"] == 3


def test_executorch_without_the_runtime_library_says_so(raspi5: GuestEnvironment, tmp_path: Path) -> None:
    pte = tmp_path / "m.pte"
    pte.write_bytes(b"\x00\x00\x00\x00ET12" + bytes(64))
    result = raspi5.run_harness(["--model", str(pte), "--out", str(tmp_path / "r.json")], timeout_s=120, check=False)
    assert result.returncode == 5
    report = json.loads((tmp_path / "r.json").read_text())
    assert "EDGEKIT_ET_LIB" in report["error"]["message"]


def test_the_same_harness_runs_on_the_host(models: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "host.json"
    proc = subprocess.run(
        [sys.executable, str(harness_path()), "--model", str(models["cnn.onnx"]), "--num_runs", "3", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text())
    assert report["ok"] and report["emulator"] is None and report["timing"]["runs"]["count"] == 3


def _min_cpu_ms(target: str, model: Path, out: Path) -> float:
    """Best calling-thread CPU time of one inference (single-threaded: the whole inference;
    CPU time, unlike wall time, does not grow when other processes load the host)."""
    r = _run(guest_environment(target), model, out, "--num_threads", "1", "--num_runs", "15")
    return r["timing"]["thread_cpu"]["min_ms"]


@pytest.mark.parametrize("model", ["cnn_int8.tflite", "mlp_int8.onnx"])
def test_int8_kernels_follow_the_target_cpu(models: dict[str, Path], tmp_path: Path, model: str) -> None:
    """The A76 (raspi5) has dot-product instructions, the A72 (raspi4) not: the runtimes pick
    sdot/udot kernels on the first, which need about half the instructions (and emulated time)."""
    best: dict[str, list[float]] = {"raspi4": [], "raspi5": []}
    for _ in range(2):  # alternate, so a burst of host load hits both alike
        for target, times in best.items():
            times.append(_min_cpu_ms(target, models[model], tmp_path / f"{target}.json"))
    a72, a76 = min(best["raspi4"]), min(best["raspi5"])
    print(f"{model}: raspi4 {a72:.3f} ms, raspi5 {a76:.3f} ms (emulated thread CPU), ratio {a76 / a72:.2f}")
    assert a76 < 0.85 * a72


def test_executorch_program_runs_through_the_shim(raspi5: GuestEnvironment, tmp_path: Path) -> None:
    etruntime = pytest.importorskip("edge_kit.emulation.etruntime")
    import torch
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    from tests.tiny_models import TinyCNN

    torch.manual_seed(0)
    model, x = TinyCNN().eval(), torch.rand(1, 1, 8, 8)
    program = to_edge_transform_and_lower(
        torch.export.export(model, (x,)), partitioner=[XnnpackPartitioner()]
    ).to_executorch()
    (tmp_path / "cnn.pte").write_bytes(program.buffer)
    np.savez(tmp_path / "x.npz", x=x.numpy())
    lib = etruntime.ensure_et_runtime("aarch64") / etruntime.SHIM_NAME
    r = _run(
        raspi5,
        tmp_path / "cnn.pte",
        tmp_path / "r.json",
        "--input",
        str(tmp_path / "x.npz"),
        "--num_runs",
        "3",
        "--profile-ops",
        "--save-outputs",
        str(tmp_path / "y.npz"),
        extra_env={"EDGEKIT_ET_LIB": str(lib)},
    )
    assert r["runtime"]["name"] == "executorch" and r["memory"]["runtime_static"]["planned_bytes"] > 0
    assert set(r["memory"]["runtime_static"]["backends"]) == {"XnnpackBackend"}
    assert r["ops"]["available"] and r["ops"]["delegate_calls"][0]["op"] == "delegate:XnnpackBackend"
    np.testing.assert_allclose(np.load(tmp_path / "y.npz")["arr_0"], model(x).detach().numpy(), atol=1e-5)
