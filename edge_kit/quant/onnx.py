"""ONNX precisions with onnxruntime's tools: float16 conversion, quantize_dynamic, quantize_static.

The float model is first prepared with `quant_pre_process` (shape inference and graph
optimisation). Static int8 writes QDQ (or QOperator) with per-channel or per-tensor
weights, activation ranges from minmax / percentile / entropy calibration; in a
transformer-like graph only MatMul / Gemm / Conv / Gather are quantized (`_static_op_types`). Layers are
ONNX node names, kept in float with `nodes_to_exclude` (`node_block_list` for fp16).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edge_kit.exporters.base import ExportOptions
from edge_kit.quant import scratch

LAYER_OPS = ("Conv", "ConvTranspose", "MatMul", "Gemm")
CALIBRATION = {"minmax": "MinMax", "percentile": "Percentile", "entropy": "Entropy"}
QTYPES = {"int8": "QInt8", "uint8": "QUInt8"}


def prepared(fp32: Path, options: ExportOptions) -> Path:
    """`quant_pre_process` of the float model, every node named (cached for the export)."""
    out = scratch(options) / "prepared.onnx"
    if out.exists():
        return out
    import onnx
    from onnxruntime.quantization.shape_inference import quant_pre_process

    try:
        quant_pre_process(str(fp32), str(out))
    except Exception:  # noqa: BLE001 - symbolic shape inference fails on some graphs; ONNX's own suffices
        quant_pre_process(str(fp32), str(out), skip_symbolic_shape=True)
    model = onnx.load(str(out))
    for i, node in enumerate(model.graph.node):
        node.name = node.name or f"{node.op_type}_{i}"
    onnx.save(model, str(out))
    return out


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


def _ranges(prep: Path, options: ExportOptions) -> Path:
    """Activation ranges from the calibration batches, computed once per export and cached.

    Calibrated here rather than inside `quantize_static` so that entropy gets a fine
    histogram (2048 bins into 128: `quantize_static` leaves both at 128, which makes
    entropy equal minmax) and so that budget re-quantizations reuse the ranges."""
    from onnxruntime.quantization import CalibrationMethod
    from onnxruntime.quantization.calibrate import create_calibrator, save_tensors_data

    cache = scratch(options) / "ranges.json"
    if cache.exists():
        return cache
    recipe = options.need_recipe()
    method = getattr(CalibrationMethod, CALIBRATION[recipe.calibration_method])
    settings = {
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
        extra_options={"symmetric": recipe.symmetric_activations, **settings[recipe.calibration_method]},
    )
    calibrator.collect_data(_Reader(_input_names(prep), options.calibration or []))
    save_tensors_data(calibrator.compute_data(), cache)
    return cache


def _uncorrected_excluded(prep: Path, options: ExportOptions) -> Path:
    """`prep` with the bias correction taken back on the nodes kept in float (see bias_correction)."""
    corrections = options.state.prepared.corrections if options.state.prepared is not None else None
    excluded = set(_excluded(prep, options)) if corrections else set()
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
        calibrate_method=getattr(CalibrationMethod, CALIBRATION[recipe.calibration_method]),
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


def quantize(fp32: Path, dest: Path, options: ExportOptions) -> dict[str, Any]:
    """Write the `options.precision` version of the float model `fp32` to `dest`."""
    if options.precision == "fp16":
        _fp16(fp32, dest, options)
        return {"quantizer": "onnxruntime float16"}
    prep = prepared(fp32, options)
    if options.precision == "int8-dynamic":
        _dynamic(prep, dest, options)
        return {"quantizer": "onnxruntime quantize_dynamic"}
    _static(prep, dest, options)
    return {"quantizer": f"onnxruntime quantize_static ({options.need_recipe().quant_format})"}
