"""Train the Flax digits CNN (the JAX twin of digits_cnn) on scikit-learn's 8x8 digits.

    python -m sample_models.train_digits_flax [--out DIR]

Same images and split as ``train_digits`` (1,347 train / 450 held out), NHWC like the Keras
twin, so ``digits_eval_nhwc.npz`` / ``digits_calib_nhwc.npz`` serve it. Writes
``digits_flax.jaxexport`` (a serialized ``jax.export`` artifact whose batch dimension is
symbolic, ``b``) and ``digits_flax.msgpack`` (a ``flax.serialization`` checkpoint of
``{"params": ...}`` for the factory ``sample_models.digits_flax:make_model``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from . import SAMPLE_DIR
from ._common import SEED, accuracy, report
from .digits_flax import make_model
from .train_digits import load_split

EPOCHS = 12
BATCH_SIZE = 64
LR = 3e-3
WEIGHT_DECAY = 1e-4


def train(x_train: np.ndarray, y_train: np.ndarray) -> tuple[Any, Any]:
    """AdamW + cosine decay, seeded init and shuffling; returns (module, variables)."""
    import jax
    import optax

    module, init, _ = make_model(SEED)
    params = init()["params"]
    steps = EPOCHS * -(-len(x_train) // BATCH_SIZE)
    tx = optax.adamw(optax.cosine_decay_schedule(LR, steps), weight_decay=WEIGHT_DECAY)
    opt_state = tx.init(params)

    @jax.jit
    def step(params: Any, opt_state: Any, xb: Any, yb: Any) -> tuple[Any, Any]:
        def loss(p: Any) -> Any:
            logits = module.apply({"params": p}, xb)
            return optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean()

        grads = jax.grad(loss)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    rng = np.random.default_rng(SEED)
    for _ in range(EPOCHS):
        order = rng.permutation(len(x_train))
        for start in range(0, len(x_train), BATCH_SIZE):
            idx = order[start : start + BATCH_SIZE]
            params, opt_state = step(params, opt_state, x_train[idx], y_train[idx])
    return module, {"params": params}


def export_artifact(module: Any, variables: Any) -> bytes:
    """The model as a serialized ``jax.export`` artifact, batch dimension symbolic.

    File paths are left out of its source locations (line numbers stay), so the bytes do not
    depend on where the checkout lives."""
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_include_full_tracebacks_in_locations", False)
    jax.config.update("jax_hlo_source_file_canonicalization_regex", ".*")
    (batch,) = jax.export.symbolic_shape("b")
    spec = jax.ShapeDtypeStruct((batch, 8, 8, 1), jnp.float32)
    exported = jax.export.export(jax.jit(lambda x: module.apply(variables, x)))(spec)
    return bytes(exported.serialize())


def main(out_dir: Path = SAMPLE_DIR) -> dict[str, float]:
    """Train, write ``digits_flax.*`` into ``out_dir``; returns the held-out accuracy."""
    import flax.serialization
    import jax

    train_idx, held, x, y = load_split()
    nhwc = x.transpose(0, 2, 3, 1).copy()
    module, variables = train(nhwc[train_idx], y[train_idx])
    paths = [out_dir / "digits_flax.jaxexport", out_dir / "digits_flax.msgpack"]
    paths[0].write_bytes(export_artifact(module, variables))
    paths[1].write_bytes(flax.serialization.to_bytes(variables))
    logits = np.asarray(jax.jit(module.apply)(variables, nhwc[held]))
    metrics = {"flax_acc": accuracy(logits, y[held])}
    report("digits_flax", metrics, paths)
    return metrics


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=SAMPLE_DIR, help="output folder")
    main(parser.parse_args().out)
