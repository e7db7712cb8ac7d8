"""The interleaved session: every subject once per round, in a rotating order, so the ratios hold
under outside load."""

from __future__ import annotations

import time

from edge_kit.benchmark.session import interleave, runner_label, thread_env


def test_interleaving_rotates_and_measures_each_subject():
    order: list[str] = []

    def sleeper(name: str, ms: float):
        def call() -> None:
            order.append(name)
            time.sleep(ms / 1000)

        return call

    result = interleave({"a": sleeper("a", 5), "b": sleeper("b", 20), "c": sleeper("c", 10)}, rounds=9, warmup=1)
    timed = order[3:]  # after one warm-up run each
    assert [timed[i * 3] for i in range(9)] == ["a", "b", "c"] * 3  # who goes first rotates
    subjects = result["subjects"]
    assert result["rounds"] == 9 and all(s["runs"] == 9 for s in subjects.values())
    p50 = {name: s["p50_ms"] for name, s in subjects.items()}
    assert p50["a"] < p50["c"] < p50["b"] and 2.0 < p50["b"] / p50["a"] < 4.5  # oversleep on a busy host: a band
    assert subjects["a"]["cpu_p50_ms"] < subjects["a"]["p50_ms"]  # sleeping costs no CPU


def test_the_source_framework_is_named_and_held_to_the_threads():
    assert runner_label("torch", "exported_program").startswith("torch eager")
    assert runner_label("tensorflow", "keras") == "Keras (model(x))"
    assert runner_label("jax", "jax_export") == "JAX jit" and runner_label("onnx", "onnx").startswith("onnxruntime")
    env = thread_env(1)
    assert env["OMP_NUM_THREADS"] == env["TF_NUM_INTRAOP_THREADS"] == "1"
    assert "--xla_cpu_multi_thread_eigen=false" in env["XLA_FLAGS"]
