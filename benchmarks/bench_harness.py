"""Figures for the emulated profiling path (printed, not asserted).

    .venv/bin/python benchmarks/bench_harness.py [--target raspi5] [--runs 30]

1. the arm64 rootfs: size, cold build time (from its manifest), warm verification time;
2. warm start: host call -> guest harness done with one inference (goal <= 5 s);
3. harness overhead vs a bare timed loop under the same QEMU, per inference and per
   process (goal <= 1.2x).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from edge_kit.emulation.environment import GuestEnvironment, guest_environment
from edge_kit.emulation.rootfs import ensure_rootfs, rootfs_status

BARE = {
    "onnxruntime": """
import sys, time, numpy as np, onnxruntime as ort
so = ort.SessionOptions(); so.intra_op_num_threads = 1
so.add_session_config_entry("session.intra_op.allow_spinning", "0")
s = ort.InferenceSession(sys.argv[1], so, providers=["CPUExecutionProvider"])
i = s.get_inputs()[0]
feed = {i.name: np.random.default_rng(0).standard_normal(i.shape).astype(np.float32)}
s.run(None, feed); s.run(None, feed)
lat = []
for _ in range(int(sys.argv[2])):
    t = time.perf_counter_ns(); s.run(None, feed); lat.append((time.perf_counter_ns() - t) / 1e6)
print(sum(lat) / len(lat))
""",
    "litert": """
import sys, time, numpy as np
from ai_edge_litert.interpreter import Interpreter
it = Interpreter(model_path=sys.argv[1], num_threads=1); it.allocate_tensors()
d, o = it.get_input_details()[0], it.get_output_details()[0]
x = np.random.default_rng(0).standard_normal(d["shape"]).astype(d["dtype"])
def run():
    it.set_tensor(d["index"], x); it.invoke(); return it.get_tensor(o["index"])
run(); run()
lat = []
for _ in range(int(sys.argv[2])):
    t = time.perf_counter_ns(); run(); lat.append((time.perf_counter_ns() - t) / 1e6)
print(sum(lat) / len(lat))
""",
}


def make_models(folder: Path) -> dict[str, Path]:
    """A small CNN as ONNX (torch.onnx.export) and as TFLite (Keras)."""
    import keras
    import tensorflow as tf
    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 16, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.Conv2d(16, 32, 3, stride=2, padding=1),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(32, 10),
    )
    torch.onnx.export(net.eval(), (torch.rand(1, 3, 64, 64),), str(folder / "cnn.onnx"), dynamo=False)
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((64, 64, 3)),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
            keras.layers.Conv2D(32, 3, strides=2, activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(10),
        ]
    )
    (folder / "cnn.tflite").write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    return {"onnxruntime": folder / "cnn.onnx", "litert": folder / "cnn.tflite"}


def bench_rootfs() -> None:
    ensure_rootfs()
    start = time.perf_counter()
    ensure_rootfs()
    warm = time.perf_counter() - start
    status = rootfs_status()
    print(
        f"rootfs: {status.size_bytes / 2**20:.0f} MB, cold build {status.build_seconds:.1f} s, "
        f"warm verification {warm * 1e3:.0f} ms ({status.path})"
    )


def bench_warm_start(target: str, models: dict[str, Path], out: Path) -> None:
    for runtime, model in models.items():
        times = []
        for _ in range(3):
            start = time.perf_counter()
            env = guest_environment(target)
            env.run_harness(
                ["--model", str(model), "--num_runs", "1", "--warmup_runs", "0", "--out", str(out)], timeout_s=300
            )
            times.append(time.perf_counter() - start)
        r = json.loads(out.read_text())
        print(
            f"warm start {runtime}: {min(times):.2f} s best of 3 (median {statistics.median(times):.2f} s; "
            f"inside: load {r['timing']['load_ms']:.0f} ms, first inference "
            f"{r['timing']['first_inference_ms']:.0f} ms) — goal <= 5 s"
        )


def bench_overhead(env: GuestEnvironment, models: dict[str, Path], runs: int, out: Path) -> None:
    for runtime, model in models.items():
        start = time.perf_counter()
        env.run_harness(
            ["--model", str(model), "--num_runs", str(runs), "--warmup_runs", "2", "--out", str(out)], timeout_s=600
        )
        harness_wall = time.perf_counter() - start
        harness_ms = json.loads(out.read_text())["timing"]["runs"]["mean_ms"]
        start = time.perf_counter()
        bare = env.run_python(["-c", BARE[runtime], str(model), str(runs)], timeout_s=600)
        bare_wall = time.perf_counter() - start
        bare_ms = float(bare.stdout.split()[-1])
        print(
            f"overhead {runtime}: per inference {harness_ms:.2f} ms vs bare {bare_ms:.2f} ms "
            f"({harness_ms / bare_ms:.2f}x); whole process {harness_wall:.2f} s vs "
            f"{bare_wall:.2f} s ({harness_wall / bare_wall:.2f}x) — goal <= 1.2x"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--target", default="raspi5")
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    bench_rootfs()
    with tempfile.TemporaryDirectory(prefix="edgekit-bench-") as tmp:
        folder = Path(tmp)
        models = make_models(folder)
        bench_warm_start(args.target, models, folder / "r.json")
        bench_overhead(guest_environment(args.target), models, args.runs, folder / "r.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
