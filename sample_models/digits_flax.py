"""Digits CNN in Flax (Linen): the JAX twin of the torch/Keras digits CNN.

``make_model`` is the factory for ``--model-class sample_models.digits_flax:make_model``: it
returns the untrained module, a function building its variables (the structure that
``digits_flax.msgpack``, a ``flax.serialization`` checkpoint, is restored into) and the input
spec, N x 8 x 8 x 1 float32 with a symbolic batch ``b``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

NUM_CLASSES = 10
INPUT_SHAPE_NHWC = (1, 8, 8, 1)


def _module_class() -> Any:
    import flax.linen as nn  # lazy: importing jax/flax takes a second or two

    class DigitsCNN(nn.Module):
        """Input N x 8 x 8 x 1 (NHWC) float32 in [0, 1]; output N x 10 logits."""

        @nn.compact
        def __call__(self, x: Any) -> Any:
            x = nn.relu(nn.Conv(32, (3, 3), padding="SAME")(x))
            x = nn.relu(nn.Conv(64, (3, 3), padding="SAME")(x))
            x = nn.max_pool(x, window_shape=(2, 2), strides=(2, 2))
            x = x.reshape((x.shape[0], -1))
            x = nn.relu(nn.Dense(256)(x))
            return nn.Dense(NUM_CLASSES)(x)

    return DigitsCNN


def make_model(seed: int = 0) -> tuple[Any, Callable[[], Any], Any]:
    """(untrained DigitsCNN, a function returning freshly initialised variables, input spec)."""
    import jax
    import jax.numpy as jnp

    module = _module_class()()
    spec = jax.ShapeDtypeStruct(jax.export.symbolic_shape("b, 8, 8, 1"), jnp.float32)
    return module, lambda: module.init(jax.random.PRNGKey(seed), jnp.zeros(INPUT_SHAPE_NHWC, jnp.float32)), spec
