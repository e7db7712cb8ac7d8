"""Run a zoo source or an exported artifact in its own runtime, and compare outputs.

The raw baseline is judged with the same limits edgekit's validation uses
(edge_kit/validate.py, TOLERANCES): fp32 max abs diff <= 1e-4 + 1e-4 * max|reference|, cosine >=
0.99999, top-1 agreement 100% on classifier outputs (neither judged when every fp32 reference
value is within atol: float noise in direction); int8 cosine >= 0.95, top-1 >= 70%. Copied
rather than imported so the baseline does not move when edgekit's internals do.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.zoo.spec import Entry

Batch = list[np.ndarray]
Runner = Callable[[Batch], list[np.ndarray]]


@dataclass(frozen=True)
class Limits:
    atol: float | None
    rtol: float
    min_cosine: float
    min_top1: float


LIMITS = {"fp32": Limits(1e-4, 1e-4, 0.99999, 1.0), "int8": Limits(None, 0.0, 0.95, 0.7)}


def batches(entry: Entry, arrays: dict[str, np.ndarray]) -> list[Batch]:
    """Split the stacked `x0, x1, ...` arrays into single-sample batches (0-d inputs repeat)."""
    count = max((a.shape[0] // max(s.shape[0], 1) for s, a in zip(entry.inputs, arrays.values()) if s.shape), default=1)
    out = []
    for j in range(count):
        batch = []
        for i, spec in enumerate(entry.inputs):
            array = arrays[f"x{i}"]
            batch.append(array if not spec.shape else array[j * spec.shape[0] : (j + 1) * spec.shape[0]])
        out.append(batch)
    return out


TIE_FRACTION = 0.01  # edgekit's near-tie rule for top-1 (edge_kit/validate.py), copied
CALIBRATION_SAMPLES = 8  # both sides of an int8 cell calibrate on this many random samples


def calibration(entry: Entry, count: int = CALIBRATION_SAMPLES, seed: int = 1) -> list[Batch]:
    """Random calibration batches drawn from the inputs' ranges (as `--calibration random` is)."""
    return batches(entry, entry.sample_inputs(count, seed))


def onnx_runner(path: Path) -> Runner:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    inputs = session.get_inputs()

    def run(batch: Batch) -> list[np.ndarray]:
        feed = {i.name: _cast(a, _ONNX_TYPES.get(i.type, a.dtype)) for i, a in zip(inputs, batch)}
        return [np.asarray(o) for o in session.run(None, feed)]

    return run


_ONNX_TYPES = {"tensor(float)": np.float32, "tensor(int64)": np.int64, "tensor(int32)": np.int32}


def _cast(array: np.ndarray, dtype: Any) -> np.ndarray:
    return np.ascontiguousarray(array.astype(dtype, copy=False))


def tflite_runner(path: Path, entry: Entry) -> Runner:
    """LiteRT, inputs matched by name when the model's names contain the entry's, else by the
    `args_N` numbering litert-torch uses, else in the model's order; resized when needed."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    details = _order(interpreter.get_input_details(), entry)
    resized = False

    def run(batch: Batch) -> list[np.ndarray]:
        nonlocal resized
        if not resized:
            for d, a in zip(details, batch):
                if tuple(d["shape"]) != a.shape:
                    interpreter.resize_tensor_input(d["index"], list(a.shape))
            interpreter.allocate_tensors()
            resized = True
        for d, a in zip(details, batch):
            interpreter.set_tensor(d["index"], _cast(a, d["dtype"]))
        interpreter.invoke()
        return [np.array(interpreter.get_tensor(d["index"])) for d in interpreter.get_output_details()]

    return run


def _order(details: list[dict], entry: Entry) -> list[dict]:
    names = [spec.name for spec in entry.inputs]
    by_name = [next((d for d in details if n in d["name"]), None) for n in names]
    if all(by_name) and len({d["index"] for d in by_name}) == len(names):
        return by_name  # type: ignore[return-value]
    numbered = [d for d in details if "args_" in d["name"]]
    if len(numbered) == len(details):
        return sorted(details, key=lambda d: int(d["name"].rsplit("args_", 1)[1].split(":")[0]))
    return sorted(details, key=lambda d: d["index"])


def pte_runner(path: Path) -> Runner:
    import torch
    from executorch.runtime import Runtime

    method = Runtime.get().load_program(str(path)).load_method("forward")

    def run(batch: Batch) -> list[np.ndarray]:
        outputs = method.execute([torch.from_numpy(np.ascontiguousarray(a)) for a in batch])
        return [o.detach().numpy() if hasattr(o, "detach") else np.asarray(o) for o in outputs]

    return run


def source_runner(entry: Entry, path: Path) -> Runner:
    """The source model itself, in its own framework: the reference every artifact is compared to."""
    if entry.source == "onnx":
        return onnx_runner(path)
    if entry.source == "tflite":
        return tflite_runner(path, entry)
    if entry.source in ("pt2", "torchscript"):
        return _torch_runner(entry, path)
    return _tf_runner(entry, path)


def _torch_runner(entry: Entry, path: Path) -> Runner:
    import torch

    module = torch.export.load(str(path)).module() if entry.source == "pt2" else torch.jit.load(str(path)).eval()

    def run(batch: Batch) -> list[np.ndarray]:
        args = [int(a) if a.ndim == 0 else torch.from_numpy(np.ascontiguousarray(a)) for a in batch]
        with torch.no_grad():
            out = module(*args)
        flat = out if isinstance(out, (tuple, list)) else [out]
        return [t.detach().numpy() for t in flat]

    return run


def _tf_runner(entry: Entry, path: Path) -> Runner:
    import tensorflow as tf

    if entry.source == "keras":
        import keras

        model = keras.saving.load_model(str(path))
        return lambda batch: [np.asarray(o) for o in _as_list(model(batch if len(batch) > 1 else batch[0]))]
    try:
        signature = tf.saved_model.load(str(path)).signatures["serving_default"]
    except AttributeError:  # TF2 cannot restore some Keras 2 optimizer slots (basic-pitch): graph mode
        return _tf1_runner(path)
    names = sorted(signature.structured_input_signature[1])
    outputs = sorted(signature.structured_outputs)
    return lambda batch: [signature(**{n: tf.constant(a) for n, a in zip(names, batch)})[o].numpy() for o in outputs]


def _tf1_runner(path: Path) -> Runner:
    """The SavedModel's serving signature run in a TF1 session (loads what the TF2 loader cannot)."""
    import tensorflow as tf

    session = tf.compat.v1.Session(graph=tf.Graph())
    with session.graph.as_default():
        meta = tf.compat.v1.saved_model.loader.load(session, ["serve"], str(path))
    signature = meta.signature_def["serving_default"]
    inputs = [signature.inputs[k].name for k in sorted(signature.inputs)]
    outputs = [signature.outputs[k].name for k in sorted(signature.outputs)]
    return lambda batch: list(session.run(outputs, dict(zip(inputs, batch))))


def _as_list(out: Any) -> list[Any]:
    if isinstance(out, dict):
        return [out[k] for k in sorted(out)]
    return list(out) if isinstance(out, (list, tuple)) else [out]


@dataclass(frozen=True)
class Verdict:
    status: str  # ok | mismatch
    max_abs_diff: float
    cosine: float
    top1: float | None
    reasons: tuple[str, ...]


def compare(reference: Runner, artifact: Runner, data: Sequence[Batch], precision: str) -> Verdict:
    """Run both on every batch; judge the artifact with edgekit's limits for `precision`."""
    limits = LIMITS["int8" if precision.startswith("int8") else "fp32"]
    worst, scale, cosines, agree, total = 0.0, 0.0, [], 0, 0
    for batch in data:
        refs = [np.asarray(r, np.float64) for r in reference(batch)]
        gots = artifact(batch)
        if len(gots) != len(refs):
            raise ValueError(f"the artifact returns {len(gots)} outputs, the source {len(refs)}")
        gots = [_align(r, np.asarray(g, np.float64)) for r, g in zip(refs, _match(refs, gots))]
        for r, g in zip(refs, gots):
            worst = max(worst, float(np.abs(r - g).max(initial=0.0)))
            scale = max(scale, float(np.abs(r).max(initial=0.0)))
            if r.ndim == 2 and r.shape[1] >= 2:  # a near tie (margin <= 1% of the logit range) agrees
                rows, a, b = np.arange(r.shape[0]), r.argmax(1), g.argmax(1)
                tie = r[rows, a] - r[rows, b] <= TIE_FRACTION * (r.max(1) - r.min(1))
                agree += int(((a == b) | tie).sum())
                total += r.shape[0]
        cosines.append(_cosine(np.concatenate([r.ravel() for r in refs]), np.concatenate([g.ravel() for g in gots])))
    top1 = agree / total if total else None
    reasons = []
    if not np.isfinite(worst):
        reasons.append("NaN or inf in the outputs")
    elif limits.atol is not None and worst > limits.atol + limits.rtol * scale:
        reasons.append(f"max abs diff {worst:.3g} > {limits.atol + limits.rtol * scale:.3g}")
    noise = limits.atol is not None and scale <= limits.atol  # every reference value within atol
    if not noise and min(cosines) < limits.min_cosine:
        reasons.append(f"cosine {min(cosines):.6f} < {limits.min_cosine}")
    if not noise and top1 is not None and top1 < limits.min_top1:
        reasons.append(f"top-1 {top1:.0%} < {limits.min_top1:.0%}")
    return Verdict("mismatch" if reasons else "ok", worst, min(cosines), top1, tuple(reasons))


def _match(refs: list[np.ndarray], gots: list[np.ndarray]) -> list[np.ndarray]:
    """Outputs in the reference's order. Converters may reorder several outputs (TFLite and
    tf2onnx order them by name): each reference takes the unused output of its element count
    closest to it (the given order when every count differs and already matches)."""
    if [g.size for g in gots] == [r.size for r in refs] and len({r.size for r in refs}) == len(refs):
        return gots
    free, out = list(range(len(gots))), []
    for ref in refs:
        same = [i for i in free if gots[i].size == ref.size] or free[:1]
        best = min(same, key=lambda i: _distance(ref, gots[i]))
        free.remove(best)
        out.append(gots[best])
    return out


def _distance(ref: np.ndarray, got: np.ndarray) -> float:
    try:
        return float(np.abs(ref - _align(ref, np.asarray(got, np.float64))).max(initial=0.0))
    except ValueError:
        return float("inf")


def _align(ref: np.ndarray, got: np.ndarray) -> np.ndarray:
    """`got` in the reference's shape: NHWC <-> NCHW transposed back, size-1 axes squeezed."""
    if got.shape == ref.shape:
        return got
    rank = ref.ndim
    if got.size == ref.size and got.ndim == rank and rank >= 3:
        for perm in ((0, *range(2, rank), 1), (0, rank - 1, *range(1, rank - 1))):
            if tuple(ref.shape[p] for p in perm) == got.shape:
                return np.transpose(got, np.argsort(perm))
    if got.size == ref.size:
        return got.reshape(ref.shape)
    raise ValueError(f"artifact output shape {list(got.shape)} differs from the source's {list(ref.shape)}")


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0.0 and nb == 0.0:
        return 1.0
    return float(np.dot(a, b) / (na * nb)) if na and nb else 0.0
