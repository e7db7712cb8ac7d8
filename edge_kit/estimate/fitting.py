"""Deterministic least squares on relative error for a handful of positive parameters (numpy only).

`fit(residuals, start)` minimises sum(residuals(x)**2) over x > 0 with Levenberg-Marquardt in
log space (so every parameter stays positive and scale-free), a central-difference Jacobian and a
fixed iteration budget: the same inputs always give the same parameters, to the last bit. A
parameter the rows do not constrain stays at its start value (the damping keeps it there), which
is what leave-one-out needs when a held-out row was the only one that informed it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

_STEP = 1e-6  # log-space step of the numerical Jacobian
_ITERATIONS = 200
_TOL = 1e-12


def _jacobian(f: Callable[[np.ndarray], np.ndarray], u: np.ndarray, r0: np.ndarray) -> np.ndarray:
    jac = np.empty((r0.size, u.size))
    for j in range(u.size):
        du = np.zeros_like(u)
        du[j] = _STEP
        jac[:, j] = (f(u + du) - f(u - du)) / (2 * _STEP)
    return jac


def fit(residuals: Callable[[np.ndarray], np.ndarray], start: np.ndarray) -> np.ndarray:
    """Positive x minimising sum(residuals(x)**2), starting from `start` (all > 0)."""
    u = np.log(np.asarray(start, dtype=np.float64))

    def f(v: np.ndarray) -> np.ndarray:
        return np.asarray(residuals(np.exp(v)), dtype=np.float64)

    r = f(u)
    cost = float(r @ r)
    lam = 1e-3
    for _ in range(_ITERATIONS):
        jac = _jacobian(f, u, r)
        g = jac.T @ r
        h = jac.T @ jac
        step = np.linalg.solve(h + lam * (np.diag(np.diag(h)) + 1e-9 * np.eye(u.size)), -g)
        trial = u + step
        rt = f(trial)
        ct = float(rt @ rt)
        if ct < cost:
            improved = cost - ct
            u, r, cost, lam = trial, rt, ct, max(lam / 3, 1e-9)
            if improved < _TOL * max(cost, 1e-30):
                break
        else:
            lam *= 4
            if lam > 1e9:
                break
    return np.exp(u)
