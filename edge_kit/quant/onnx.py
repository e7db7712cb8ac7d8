"""ONNX precisions with onnxruntime's tools: float16 conversion, quantize_dynamic, quantize_static.

The float model is first prepared with `quant_pre_process` (shape inference and graph
optimisation; per-channel recipes first lift opsets below 13 to 13). Every int8 model is loaded
in onnxruntime before it is accepted: one ORT refuses is retried from the unoptimized graph, and
refused again is an ExportError naming the node. Static int8 writes QDQ (or QOperator) with
per-channel or per-tensor weights, activation ranges from minmax / percentile / entropy
calibration; in a transformer-like graph only MatMul / Gemm / Conv / Gather are quantized
(`_static_op_types`). Layers are ONNX node names, kept in float with `nodes_to_exclude`
(`node_block_list` for fp16).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edge_kit import progress
from edge_kit.errors import ExportError
from edge_kit.exporters.base import ExportOptions
from edge_kit.quant import scratch

LAYER_OPS = ("Conv", "ConvTranspose", "MatMul", "Gemm")
CALIBRATION = {"minmax": "MinMax", "percentile": "Percentile", "entropy": "Entropy"}
QTYPES = {"int8": "QInt8", "uint8": "QUInt8"}
# quant_pre_process attempts, in order: with its graph optimization, then without (ORT's optimizer
# rewrites the graph, e.g. ConvBnFusion_* nodes; when the int8 model quantized from that graph does
# not load in ORT, the unoptimized graph is quantized instead). Every attempt is checked by loading it.
PRE_PROCESS = ("optimized", "unoptimized")
PRE_PROCESS_KEY = "onnx_pre_process"
PER_CHANNEL_OPSET = 13  # DequantizeLinear's per-axis form (per-channel weights) needs opset 13


def prepared(fp32: Path, options: ExportOptions) -> Path:
    """`quant_pre_process` of the float model, every node named (cached for the export).

    With graph optimization unless an earlier attempt in this export found that the quantized
    result does not load (see `quantize`); then with `skip_optimization=True`."""
    optimize = options.state.notes.get(PRE_PROCESS_KEY, PRE_PROCESS[0]) == PRE_PROCESS[0]
    out = scratch(options) / ("prepared.onnx" if optimize else "prepared-unoptimized.onnx")
    if out.exists():
        return out
    import onnx
    from onnxruntime.quantization.shape_inference import quant_pre_process

    source = _quantizable_float(fp32, options, fold_constants=not optimize)
    try:
        quant_pre_process(str(source), str(out), skip_optimization=not optimize)
    except Exception:  # noqa: BLE001 - symbolic shape inference fails on some graphs; ONNX's own suffices
        quant_pre_process(str(source), str(out), skip_optimization=not optimize, skip_symbolic_shape=True)
    model = onnx.load(str(out))
    for i, node in enumerate(model.graph.node):
        node.name = node.name or f"{node.op_type}_{i}"
    onnx.save(model, str(out))
    return out


def _quantizable_float(fp32: Path, options: ExportOptions, fold_constants: bool) -> Path:
    """The float model as quantize_static needs it: at opset 13 or later when weights are per-channel
    (DequantizeLinear's `axis` is opset 13; PP-OCR ships opset 11/12 and ORT then refuses the int8
    model), and, when ORT's optimizer does not run, with Constant nodes as initializers."""
    import onnx
    import onnx.version_converter

    model = onnx.load(str(fp32))
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), PER_CHANNEL_OPSET)
    upgrade = options.recipe is not None and options.recipe.per_channel and opset < PER_CHANNEL_OPSET
    if not upgrade and not fold_constants:
        return fp32
    if upgrade:
        try:
            model = onnx.version_converter.convert_version(model, PER_CHANNEL_OPSET)
            options.state.notes["onnx_opset_upgrade"] = f"{opset} → {PER_CHANNEL_OPSET} (per-channel weights)"
        except Exception:  # noqa: BLE001 - the converter lacks adapters for some ops; quantize as is
            options.state.notes["onnx_opset_upgrade"] = f"{opset} → {PER_CHANNEL_OPSET} failed; quantized at {opset}"
    if fold_constants:
        _constants_as_initializers(model)
    out = scratch(options) / ("float-folded.onnx" if fold_constants else "float.onnx")
    onnx.save(model, str(out))
    return out


def _constants_as_initializers(model: Any) -> None:
    """Turn tensor `Constant` nodes into initializers. quantize_static quantizes only initializers;
    Paddle exports (PP-OCR) keep every weight in a Constant node, which ORT's graph optimization
    folds but the unoptimized pre-process leaves: the int8 model would keep float weights."""
    import onnx

    kept = []
    for node in model.graph.node:
        value = next((a.t for a in node.attribute if a.name == "value"), None) if node.op_type == "Constant" else None
        if value is None or node.domain not in ("", "ai.onnx"):
            kept.append(node)
            continue
        tensor = onnx.TensorProto()
        tensor.CopyFrom(value)
        tensor.name = node.output[0]
        model.graph.initializer.append(tensor)
    del model.graph.node[:]
    model.graph.node.extend(kept)


def layers(fp32: Path, options: ExportOptions) -> list[str]:
    """Names of the conv/matmul/gemm nodes, in graph order."""
    import onnx

    model = onnx.load(str(prepared(fp32, options)), load_external_data=False)
    return [n.name for n in model.graph.node if n.op_type in LAYER_OPS]


class _Reader:
    """An onnxruntime CalibrationDataReader over edgekit's calibration batches."""

    def __init__(self, names: Sequence[str], batches: Sequence[Sequence[np.ndarray]]) -> None:
        self.names, self.batches = list(names), batches
        self._it: Iterator[Sequence[np.ndarray]] = iter(batches)

    def get_next(self) -> dict[str, np.ndarray] | None:
        arrays = next(self._it, None)
        return None if arrays is None else dict(zip(self.names, (np.ascontiguousarray(a) for a in arrays)))

    def rewind(self) -> None:
        self._it = iter(self.batches)


def _excluded(model_path: Path, options: ExportOptions) -> list[str]:
    import onnx

    ops = set(options.need_recipe().keep_float_ops)
    model = onnx.load(str(model_path), load_external_data=False)
    by_op = [n.name for n in model.graph.node if n.op_type in ops]
    return sorted(set(by_op) | set(options.keep_float))


def _input_names(model_path: Path) -> list[str]:
    import onnx

    graph = onnx.load(str(model_path), load_external_data=False).graph
    inits = {i.name for i in graph.initializer}
    return [i.name for i in graph.input if i.name not in inits]


def _fp16(fp32: Path, dest: Path, options: ExportOptions) -> None:
    import onnx
    from onnxruntime.transformers.float16 import DEFAULT_OP_BLOCK_LIST, convert_float_to_float16

    model = convert_float_to_float16(
        onnx.load(str(fp32)),
        keep_io_types=True,
        op_block_list=list(DEFAULT_OP_BLOCK_LIST) + list(options.need_recipe().keep_float_ops),
        node_block_list=list(options.keep_float) or None,
    )
    onnx.save(model, str(dest))


def _calibration_method(options: ExportOptions) -> str:
    """The static int8 recipe's calibration method (Recipe validation requires one)."""
    method = options.need_recipe().calibration_method
    assert method is not None, "a static int8 recipe without calibration_method"
    return method


def _ranges(prep: Path, options: ExportOptions) -> Path:
    """Activation ranges from the calibration batches, computed once per export and cached.

    Calibrated here rather than inside `quantize_static` so that entropy gets a fine
    histogram (2048 bins into 128: `quantize_static` leaves both at 128, which makes
    entropy equal minmax) and so that budget re-quantizations reuse the ranges."""
    from onnxruntime.quantization import CalibrationMethod
    from onnxruntime.quantization.calibrate import create_calibrator, save_tensors_data

    cache = prep.with_name(f"ranges-{prep.stem}.json")  # tensor names differ between pre-process variants
    if cache.exists():
        return cache
    recipe = options.need_recipe()
    method_name = _calibration_method(options)
    method = getattr(CalibrationMethod, CALIBRATION[method_name])
    settings: dict[str, dict[str, Any]] = {
        "minmax": {},
        "percentile": {"num_bins": recipe.histogram_bins, "percentile": recipe.percentile},
        "entropy": {"num_bins": recipe.histogram_bins, "num_quantized_bins": 128},
    }
    calibrator = create_calibrator(
        prep,
        None,
        augmented_model_path=str(scratch(options) / "augmented.onnx"),
        calibrate_method=method,
        providers=["CPUExecutionProvider"],
        extra_options={"symmetric": recipe.symmetric_activations, **settings[method_name]},
    )
    calibrator.collect_data(_Reader(_input_names(prep), options.calibration or []))
    save_tensors_data(calibrator.compute_data(), cache)
    return cache


def _uncorrected_excluded(prep: Path, options: ExportOptions) -> Path:
    """`prep` with the bias correction taken back on the nodes kept in float (see bias_correction)."""
    corrections = options.state.prepared.corrections if options.state.prepared is not None else None
    if not corrections:
        return prep
    excluded = set(_excluded(prep, options))
    if not excluded:
        return prep
    import onnx

    from edge_kit.quant.bias_correction import restore_excluded

    model = onnx.load(str(prep))
    restored = restore_excluded(model, excluded, corrections)
    if "bias_corrected" in options.state.notes:  # the manifest counts the layers that stay corrected
        options.state.notes["bias_corrected"] = {"layers": options.state.notes["bias_corrected"]["layers"] - restored}
    out = scratch(options) / "prepared-kept.onnx"
    onnx.save(model, str(out))
    return out


NORMS = ("LayerNormalization", "SimplifiedLayerNormalization", "SkipLayerNormalization", "RMSNormalization")
TRANSFORMER_OPS = ("MatMul", "Gemm", "Gather", "Conv")


def _static_op_types(prep: Path, options: ExportOptions) -> list[str] | None:
    """The op types static int8 quantizes: all ONNX Runtime can (None), or for a transformer-like
    graph (Softmax and a normalization around MatMuls) only the weighted ones.

    Static per-tensor ranges do not fit a transformer's residual stream (a few outlier channels
    set the scale of all), LayerNorm outputs, attention masks (-inf-like additions) or Softmax, and
    every extra Q/DQ pair costs accuracy for no size; the MatMul/Gemm inputs, weights and the
    embedding tables (Gather) carry the size and the MACs. Recorded in the manifest."""
    import onnx

    ops = {node.op_type for node in onnx.load(str(prep), load_external_data=False).graph.node}
    if not ({"Softmax", "MatMul"} <= ops and ops & set(NORMS)):
        return None
    options.state.notes["op_types"] = {
        "quantized": list(TRANSFORMER_OPS),
        "why": "transformer-like graph (Softmax, normalization, MatMul): residual adds, normalization, "
        "Softmax and activations stay float; MatMul/Gemm/Conv inputs and weights and Gather tables are int8",
    }
    return list(TRANSFORMER_OPS)


def _static(prep: Path, dest: Path, options: ExportOptions) -> None:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    recipe = options.need_recipe()
    ranges = _ranges(prep, options)
    quantize_static(
        str(_uncorrected_excluded(prep, options)),
        str(dest),
        None,
        calibration_cache_path=str(ranges),
        quant_format=QuantFormat.QDQ if recipe.quant_format == "qdq" else QuantFormat.QOperator,
        per_channel=recipe.per_channel,
        activation_type=getattr(QuantType, QTYPES[recipe.activation_type]),
        weight_type=getattr(QuantType, QTYPES[recipe.weight_type]),
        nodes_to_exclude=_excluded(prep, options),
        calibrate_method=getattr(CalibrationMethod, CALIBRATION[_calibration_method(options)]),
        op_types_to_quantize=_static_op_types(prep, options),
        extra_options={"ActivationSymmetric": recipe.symmetric_activations},
    )


def _dynamic(prep: Path, dest: Path, options: ExportOptions) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    recipe = options.need_recipe()
    quantize_dynamic(
        str(prep),
        str(dest),
        per_channel=recipe.per_channel,
        weight_type=getattr(QuantType, QTYPES[recipe.weight_type]),
        nodes_to_exclude=_excluded(prep, options),
    )


def load_failure(path: Path) -> Exception | None:
    """None when onnxruntime loads `path`; else the exception it raised."""
    import onnxruntime as ort

    from edge_kit.models.onnx_models import model_ref

    options = ort.SessionOptions()
    options.log_severity_level = 3
    try:
        ort.InferenceSession(model_ref(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - ORT raises its own exception types
        return exc
    return None


def ort_reason(exc: BaseException, limit: int = 300) -> str:
    """onnxruntime's load error without its boilerplate: the status, the node and what is wrong
    ('INVALID_GRAPH: node X (DequantizeLinear): Unrecognized attribute: axis for operator ...')."""
    text = " ".join(str(exc).split())
    status = re.search(r"\[ONNXRuntimeError\] : \d+ : (\w+) :", text)
    node = re.search(r'In Node, \("([^"]*)", (\w+),', text)
    error = re.search(r", Error (.*)$", text)
    if status and node and error:
        return f"{status.group(1)}: node {node.group(1)} ({node.group(2)}): {error.group(1)}"[:limit]
    text = re.sub(r"Load model from \S+ failed:", "", text)
    return (re.sub(r"^\[ONNXRuntimeError\] : \d+ : ", "", text).strip() or type(exc).__name__)[:limit]


def _int8(fp32: Path, dest: Path, options: ExportOptions) -> dict[str, Any]:
    """Static or dynamic int8, pre-processed with optimization then (if ORT cannot load the
    result) without; facts say which attempt was used and why an earlier one failed."""
    write = _dynamic if options.precision == "int8-dynamic" else _static
    failures: dict[str, str] = options.state.notes.setdefault("onnx_pre_process_failures", {})
    start = PRE_PROCESS.index(options.state.notes.get(PRE_PROCESS_KEY, PRE_PROCESS[0]))
    error: Exception | None = None
    for attempt in PRE_PROCESS[start:]:
        options.state.notes[PRE_PROCESS_KEY] = attempt
        write(prepared(fp32, options), dest, options)
        error = load_failure(dest)
        if error is None:
            upgrade = options.state.notes.get("onnx_opset_upgrade")
            return {
                "pre_process": {"used": attempt, "failed": dict(failures), **({"opset": upgrade} if upgrade else {})}
            }
        failures[attempt] = ort_reason(error)
        progress.log(f"onnxruntime cannot load the int8 model ({attempt} pre-process): {failures[attempt]}")
    raise ExportError(
        f"onnxruntime cannot load the int8 model it quantized: {failures[PRE_PROCESS[-1]]}",
        hint="try --quantize int8-dynamic or fp16 (the full message: --debug)",
        attempts=dict(failures),
    ) from error


def quantize(fp32: Path, dest: Path, options: ExportOptions) -> dict[str, Any]:
    """Write the `options.precision` version of the float model `fp32` to `dest`."""
    if options.precision == "fp16":
        _fp16(fp32, dest, options)
        return {"quantizer": "onnxruntime float16"}
    facts = _int8(fp32, dest, options)
    if options.precision == "int8-dynamic":
        return {"quantizer": "onnxruntime quantize_dynamic", **facts}
    return {"quantizer": f"onnxruntime quantize_static ({options.need_recipe().quant_format})", **facts}
