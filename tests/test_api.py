"""The public Python API on live objects and files, and the README's example, executed."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import edge_kit
from edge_kit.errors import UsageError, ValidationError
from tests.conftest import ROOT, SAMPLES


def test_live_torch_module_to_onnx(tmp_path: Path) -> None:
    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(8, 4),
    ).eval()
    x = torch.rand(1, 3, 32, 32)
    result = edge_kit.export(model, example_inputs=(x,), format="onnx", output=tmp_path / "m.onnx")
    assert result.status == "ok" and result.artifact.is_file()
    assert result.manifest["source"]["kind"] == "torch_module" and result.manifest["inputs"][0]["shape"] == [
        1,
        3,
        32,
        32,
    ]
    assert result.manifest["source"]["sha256"] and result.manifest["artifact"]["route"] == "torch-onnx-dynamo"
    import onnxruntime as ort

    session = ort.InferenceSession(str(result.artifact), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    np.testing.assert_allclose(got, model(x).detach().numpy(), atol=1e-5)


def test_live_exported_program_and_keras_model(tmp_path: Path) -> None:
    import keras
    import torch

    program = torch.export.export(torch.nn.Linear(5, 2).eval(), (torch.rand(1, 5),))
    assert edge_kit.export(program, format="executorch", output=tmp_path / "p.pte").status == "ok"
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3, activation="relu"), keras.layers.Dense(2)])
    result = edge_kit.export(model, format="tflite", output=tmp_path / "k.tflite")
    assert result.status == "ok" and result.manifest["source"]["kind"] == "keras"
    assert result.manifest["validation"]["max_abs_diff"] < 1e-5


def test_live_objects_need_what_a_file_would_give(tmp_path: Path) -> None:
    import torch

    with pytest.raises(UsageError, match="needs example inputs"):
        edge_kit.export(torch.nn.Linear(3, 2), format="onnx", output=tmp_path / "m.onnx")
    with pytest.raises(UsageError, match="no file to name the artifact after"):
        edge_kit.export(torch.nn.Linear(3, 2), example_inputs=(torch.rand(1, 3),), format="onnx")
    with pytest.raises(UsageError, match="cannot export a dict"):
        edge_kit.export({"not": "a model"}, format="onnx", output=tmp_path / "m.onnx")
    with pytest.raises(UsageError, match="unknown option"):
        edge_kit.export(SAMPLES / "digits_cnn.pt2", format="onnx", output=tmp_path / "m.onnx", colour="red")
    assert list(tmp_path.iterdir()) == []


def test_mismatch_raises_after_writing_unless_allowed(tmp_path: Path) -> None:
    from edge_kit.validate import Tolerance

    strict = Tolerance(atol=0.0, rtol=0.0, min_cosine=1.0, min_top1=1.0)
    with pytest.raises(ValidationError, match="outside tolerance"):
        edge_kit.export(
            SAMPLES / "digits_cnn.pt2", format="tflite", quantize="fp16", output=tmp_path / "a.tflite", tolerance=strict
        )
    assert (tmp_path / "a.tflite").is_file()
    result = edge_kit.export(
        SAMPLES / "digits_cnn.pt2",
        format="tflite",
        quantize="fp16",
        output=tmp_path / "b.tflite",
        tolerance=strict,
        allow_mismatch=True,
    )
    assert result.status == "mismatch"


def test_the_readme_example_runs(tmp_path: Path) -> None:
    text = (ROOT / "README.md").read_text()
    code = re.search(r"<!-- api-example -->\s*```python\n(.*?)```", text, re.S)
    assert code, "README.md lost its Python API example"
    proc = subprocess.run(
        [sys.executable, "-c", code.group(1)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "tiny.onnx").is_file() and json.loads((tmp_path / "tiny.onnx.json").read_text())[
        "status"
    ] == "ok"


def test_live_jax_function_and_flax_module(tmp_path: Path) -> None:
    import jax
    import jax.numpy as jnp
    import numpy as np

    flax_linen = pytest.importorskip("flax.linen")
    rng = np.random.default_rng(0)
    params = {"w": rng.standard_normal((6, 3)).astype(np.float32), "b": np.zeros(3, np.float32)}

    def apply_fn(p: dict, x: jax.Array) -> jax.Array:
        return jnp.tanh(x @ p["w"] + p["b"])

    x = np.ones((1, 6), np.float32)
    result = edge_kit.export(apply_fn, params=params, example_inputs=(x,), format="onnx", output=tmp_path / "f.onnx")
    assert result.status == "ok" and result.manifest["source"]["framework"] == "jax"
    module = flax_linen.Dense(4)
    variables = module.init(jax.random.PRNGKey(0), x)
    tflite = edge_kit.export(
        module, params=variables, example_inputs=(x,), format="tflite", output=tmp_path / "d.tflite"
    )
    assert tflite.status == "ok" and tflite.validation["max_abs_diff"] < 1e-5
    with pytest.raises(UsageError):
        edge_kit.export(apply_fn, example_inputs=(x,), format="onnx", output=tmp_path / "g.onnx")  # no params
