"""`module:factory` callables for the Flax checkpoint tests (tests.models.jax_factories:NAME)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from sample_models.digits_flax import INPUT_SHAPE_NHWC


def make_wide() -> tuple[Any, Any]:
    """The digits CNN with a 128-wide hidden layer: same keys as the sample, other shapes."""
    import flax.linen as nn

    class Wide(nn.Module):
        @nn.compact
        def __call__(self, x: Any) -> Any:
            x = nn.relu(nn.Conv(32, (3, 3), padding="SAME")(x))
            x = nn.relu(nn.Conv(64, (3, 3), padding="SAME")(x))
            x = nn.max_pool(x, window_shape=(2, 2), strides=(2, 2)).reshape((x.shape[0], -1))
            x = nn.relu(nn.Dense(128)(x))
            return nn.Dense(10)(x)

    module = Wide()
    return module, lambda: module.init(jax.random.PRNGKey(0), jnp.zeros(INPUT_SHAPE_NHWC))


def make_mlp() -> tuple[Any, Any]:
    """A different architecture (other parameter names)."""
    import flax.linen as nn

    module = nn.Dense(10)
    return module, lambda: module.init(jax.random.PRNGKey(0), jnp.zeros((1, 64)))


def make_function() -> tuple[Any, Any, Any]:
    """A plain function with a params template: apply_fn(params, x) = x @ w + b."""
    params = {"w": np.zeros((4, 3), np.float32), "b": np.zeros((3,), np.float32)}
    return (lambda p, x: x @ p["w"] + p["b"]), params, np.zeros((2, 4), np.float32)


def make_nnx() -> Any:
    """An NNX model (Linear → BatchNorm → ReLU → Linear), seed 1."""
    from flax import nnx

    class Net(nnx.Module):
        def __init__(self, rngs: nnx.Rngs) -> None:
            self.l1, self.bn, self.l2 = (
                nnx.Linear(4, 8, rngs=rngs),
                nnx.BatchNorm(8, rngs=rngs),
                nnx.Linear(8, 3, rngs=rngs),
            )

        def __call__(self, x: Any) -> Any:
            return self.l2(nnx.relu(self.bn(self.l1(x))))

    return Net(nnx.Rngs(1))


def make_broken() -> Any:
    raise RuntimeError("no such architecture")
