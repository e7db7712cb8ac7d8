"""JAX sources: functions + params, Flax Linen/NNX modules, jax.export artifacts and Flax
checkpoints (detection, signature, reference run) and their bad inputs (one line each)."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import numpy as np
import pytest

jax = pytest.importorskip("jax")
pytest.importorskip("flax")

import jax.numpy as jnp  # noqa: E402

from edge_kit.errors import EdgeKitError, ModelLoadError, UsageError  # noqa: E402
from edge_kit.models import jax_files, jax_models  # noqa: E402
from edge_kit.models.sniff import Kind  # noqa: E402
from edge_kit.signature import TensorSpec  # noqa: E402
from sample_models import load_npz, sample_path  # noqa: E402

FACTORY = "sample_models.digits_flax:make_model"
EXPORT, CHECKPOINT = sample_path("digits_flax.jaxexport"), sample_path("digits_flax.msgpack")
RNG = np.random.default_rng(0)
W = RNG.standard_normal((4, 3)).astype(np.float32)


def apply_fn(params: dict, x: jax.Array) -> jax.Array:
    return jnp.tanh(x @ params["w"])


def fails(error: type[EdgeKitError], code: int, call, *needles: str) -> str:
    """`call()` raises `error` with exit `code` and a one-line message containing `needles`."""
    with pytest.raises(error) as info:
        call()
    text = str(info.value)
    assert info.value.exit_code == code and "\n" not in text, text
    for needle in needles:
        assert needle.lower() in text.lower(), text
    return text


@pytest.fixture(scope="module")
def digits() -> dict[str, np.ndarray]:
    return load_npz("digits_eval_nhwc.npz")


def test_files_are_detected_by_content(tmp_path: Path) -> None:
    assert jax_files.sniff_jax(EXPORT) is Kind.JAX_EXPORT
    assert jax_files.sniff_jax(CHECKPOINT) is Kind.FLAX_CHECKPOINT
    renamed = tmp_path / "model.bin"
    renamed.write_bytes(EXPORT.read_bytes())
    assert jax_files.sniff_jax(renamed) is Kind.JAX_EXPORT
    for other in ("digits_cnn.pt2", "digits_cnn.keras", "digits_eval_nhwc.npz", "sensor_norm.json"):
        assert jax_files.sniff_jax(sample_path(other)) is None, other
    (tmp_path / "noise").write_bytes(RNG.bytes(4096))
    (tmp_path / "cut").write_bytes(EXPORT.read_bytes()[:4000])
    assert jax_files.sniff_jax(tmp_path / "noise") is None and jax_files.sniff_jax(tmp_path / "cut") is None


def test_export_artifact_declares_a_symbolic_batch_and_reaches_accuracy(digits: dict) -> None:
    source = jax_files.load_jax(EXPORT)
    assert source.framework == "jax" and source.kind is Kind.JAX_EXPORT
    assert [s.shape for s in source.declared_inputs()] == [(None, 8, 8, 1)]
    assert source.describe()["symbolic_dims"] == ["b"] and source.polymorphic_shapes() == ["(b, 8, 8, 1)"]
    assert [s.shape for s in source.inputs] == [(1, 8, 8, 1)]  # a dynamic batch resolves to 1
    assert [(s.shape, s.dtype) for s in source.output_specs()] == [((1, 10), "float32")]
    logits = source.run([digits["x"]])[0]
    assert logits.shape == (450, 10) and (logits.argmax(1) == digits["y"]).mean() >= 0.95


def test_checkpoint_restores_into_the_factory_and_matches_the_artifact(digits: dict) -> None:
    source = jax_files.load_jax(CHECKPOINT, model_class=FACTORY, input_shapes=[(5, 8, 8, 1)])
    assert source.kind is Kind.FLAX_CHECKPOINT and source.inputs[0].shape == (5, 8, 8, 1)
    exported = jax_files.load_jax(EXPORT)
    np.testing.assert_allclose(source.run([digits["x"]])[0], exported.run([digits["x"]])[0], atol=1e-5)


def test_function_with_params_keeps_a_dynamic_batch() -> None:
    source = jax_models.from_function(apply_fn, {"w": W}, [TensorSpec("x", (None, 4))]).resolve()
    assert source.declared_inputs()[0].shape == (None, 4) and source.input_names == ["input_0"]
    for batch in (1, 5):
        x = RNG.random((batch, 4), dtype=np.float32)
        np.testing.assert_allclose(source.run([x])[0], np.tanh(x @ W), atol=1e-6)


def test_linen_and_nnx_modules_run_like_flax() -> None:
    import flax.linen as nn

    from tests.models.jax_factories import make_nnx

    x = RNG.random((2, 4), dtype=np.float32)
    module = nn.Dense(3)
    variables = jax.jit(module.init)(jax.random.PRNGKey(0), x)
    linen = jax_models.from_object(module, params=variables, example_inputs=[x]).resolve()
    np.testing.assert_allclose(linen.run([x])[0], module.apply(variables, x), atol=1e-6)
    model = make_nnx()
    nnx_source = jax_models.from_object(model, example_inputs=[TensorSpec("x", (None, 4))]).resolve()
    model.eval()
    np.testing.assert_allclose(nnx_source.run([x])[0], model(x), atol=1e-6)


def test_nnx_and_function_checkpoints_restore(tmp_path: Path) -> None:
    import flax.serialization
    from flax import nnx

    from tests.models.jax_factories import make_nnx

    trained = make_nnx()
    trained.l1.kernel.value = trained.l1.kernel.value + 1.0  # differs from a fresh factory model
    (tmp_path / "nnx.msgpack").write_bytes(flax.serialization.to_bytes(nnx.to_pure_dict(nnx.state(trained))))
    source = jax_files.load_jax(
        tmp_path / "nnx.msgpack", model_class="tests.models.jax_factories:make_nnx", input_shapes=[(2, 4)]
    )
    x = RNG.random((2, 4), dtype=np.float32)
    trained.eval()
    np.testing.assert_allclose(source.run([x])[0], trained(x), atol=1e-6)
    (tmp_path / "fn.msgpack").write_bytes(flax.serialization.to_bytes({"w": W, "b": np.ones(3, np.float32)}))
    source = jax_files.load_jax(tmp_path / "fn.msgpack", model_class="tests.models.jax_factories:make_function")
    np.testing.assert_allclose(source.run([x])[0], x @ W + 1, atol=1e-6)


# Bad inputs: one line each, documented exit codes.


def test_missing_params_are_usage_errors() -> None:
    import flax.linen as nn

    x = np.zeros((1, 4), np.float32)
    fails(UsageError, 2, lambda: jax_models.from_function(apply_fn, example_inputs=[x]), "params")
    fails(UsageError, 2, lambda: jax_models.from_flax(nn.Dense(3), None, [x]), "variables")
    fails(UsageError, 2, lambda: jax_models.from_flax(nn.Dense(3), {"params": {}}, [x]), "missing parameters")
    fails(UsageError, 2, lambda: jax_files.load_jax(CHECKPOINT), "--model-class")


@pytest.mark.parametrize(
    ("fn", "spec", "needle"),
    [
        (lambda x: x @ W, TensorSpec("x", (1, 5)), "dot_general"),  # wrong shape for the weights
        (lambda x: x * 2 if x.sum() > 0 else x, TensorSpec("x", (1, 4)), "jax.lax.cond"),  # Python `if` on a value
        (lambda x: x if x.shape[0] > 2 else -x, TensorSpec("x", (None, 4)), "symbolic dimension"),  # on the batch
    ],
    ids=["shape", "value-branch", "symbolic-branch"],
)
def test_untraceable_function_is_a_usage_error(fn, spec: TensorSpec, needle: str) -> None:
    fails(UsageError, 2, lambda: jax_models.from_function(fn, example_inputs=[spec]), "cannot be traced", needle)


def test_untraceable_after_shape_resolution() -> None:
    source = jax_models.from_function(lambda x: x @ W)  # no example inputs: the shape comes later
    fails(UsageError, 2, lambda: source.resolve([(1, 6)]), "cannot be traced", "float32[1,6]")


@pytest.mark.parametrize(
    ("factory", "needle"),
    [
        ("make_wide", "params/Dense_0/bias is float32[256] in the file, float32[128] in the model"),
        ("make_mlp", "keys do not match"),
    ],
)
def test_checkpoint_that_does_not_fit_the_factory(factory: str, needle: str) -> None:
    fails(
        ModelLoadError,
        3,
        lambda: jax_files.load_jax(CHECKPOINT, model_class=f"tests.models.jax_factories:{factory}"),
        "does not fit",
        needle,
    )


def test_broken_factory_and_damaged_checkpoint(tmp_path: Path) -> None:
    fails(
        UsageError,
        2,
        lambda: jax_files.load_flax_checkpoint(CHECKPOINT, "tests.models.jax_factories:make_broken"),
        "no such architecture",
    )
    (tmp_path / "cut.msgpack").write_bytes(CHECKPOINT.read_bytes()[:5000])
    fails(ModelLoadError, 3, lambda: jax_files.load_flax_checkpoint(tmp_path / "cut.msgpack", FACTORY), "cut.msgpack")


def _patched(data: bytes, slot: int, value: int) -> bytes:
    """`data` with the uint16 field `slot` of the flatbuffer's root table set to `value`."""
    at = jax_files._field(data, slot)
    assert at is not None
    out = bytearray(data)
    struct.pack_into("<H", out, at, value)
    return bytes(out)


def test_artifact_from_another_jax_is_refused(tmp_path: Path) -> None:
    data = EXPORT.read_bytes()
    assert jax_files.calling_convention(data) == 10
    (tmp_path / "newer.jaxexport").write_bytes(_patched(data, jax_files._CALLING_CONVENTION_FIELD, 99))
    fails(
        ModelLoadError,
        3,
        lambda: jax_files.load_jax(tmp_path / "newer.jaxexport"),
        "calling convention 99",
        f"jax {jax.__version__} reads 9-10",
    )
    future = re.sub(rb"StableHLO_v1\.(\d+)\.(\d+)", lambda m: b"StableHLO_v9." + m.group(1) + b"." + m.group(2), data)
    (tmp_path / "future.jaxexport").write_bytes(future)
    fails(ModelLoadError, 3, lambda: jax_files.load_jax(tmp_path / "future.jaxexport"), "needs StableHLO 9.")


def test_damaged_or_gpu_only_artifact_is_refused(tmp_path: Path) -> None:
    data = bytearray(EXPORT.read_bytes())
    mlir = jax_files.mlir_module(bytes(data))
    start = bytes(data).index(mlir)
    data[start + 200 : start + 400] = bytes(200)  # inside the StableHLO bytecode
    (tmp_path / "damaged.jaxexport").write_bytes(data)
    fails(
        ModelLoadError, 3, lambda: jax_files.load_jax(tmp_path / "damaged.jaxexport"), "cannot read damaged.jaxexport"
    )
    exported = jax.export.export(jax.jit(lambda x: x * 2), platforms=["cuda"])(jax.ShapeDtypeStruct((2,), jnp.float32))
    (tmp_path / "gpu.jaxexport").write_bytes(exported.serialize())
    fails(ModelLoadError, 3, lambda: jax_files.load_jax(tmp_path / "gpu.jaxexport"), "cuda only")
