"""TFLite precisions. Keras/SavedModel, and JAX through jax2tf (`convert` takes any
TFLiteConverter): converter flags (float16, dynamic range, full integer with float/int8/uint8
I/O). PyTorch: PT2E through litert-torch (static or dynamic int8; embedding tables then int8
per row through ai-edge-quantizer), float16 weights through ai-edge-quantizer.

Layers kept in float: torch module paths (litert-torch's quantizer skips them) or, for
Keras full integer, the output tensor names of TFLite ops (`denylisted_nodes` of the MLIR
quantizer, applied to one calibrated model so re-quantizing costs no recalibration).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import Any

from edge_kit.exporters.base import ExportOptions
from edge_kit.quant import pt2e

LAYER_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV", "BATCH_MATMUL", "CONV_3D")


def import_litert_torch() -> Any:
    """Import litert-torch without its progress lines (LITERT_TORCH_SHOW_PROGRESS=y shows them)."""
    os.environ.setdefault("LITERT_TORCH_SHOW_PROGRESS", "n")
    import litert_torch

    return litert_torch


def _calibrated(make_converter: Callable[[], Any], options: ExportOptions) -> bytes:
    """The float model with calibration statistics (computed once per export)."""
    if options.state.calibrated_tflite is None:
        from edge_kit.models.tf_models import import_tf

        tf = import_tf()
        converter = make_converter()
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        batches = options.calibration or []
        converter.representative_dataset = lambda: iter([list(b) for b in batches])
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter._experimental_calibrate_only = True
        options.state.calibrated_tflite = converter.convert()
    return options.state.calibrated_tflite


def keras(source: Any, options: ExportOptions) -> bytes:
    """A TensorFlow source (Keras, SavedModel: anything with `tflite_converter()`) at
    `options.precision`, as TFLite bytes."""
    return convert(source.tflite_converter, options)


def convert(make_converter: Callable[[], Any], options: ExportOptions) -> bytes:
    """TFLite bytes at `options.precision` from a TFLiteConverter of the float model
    (`make_converter` returns a fresh one per call: Keras, SavedModel or a concrete function)."""
    from edge_kit.models.tf_models import import_tf

    tf = import_tf()
    if options.precision == "fp32":
        return bytes(make_converter().convert())
    recipe = options.need_recipe()
    if options.precision == "int8":
        from tensorflow.lite.python import convert as tfl_convert

        io = {"float32": tf.float32, "int8": tf.int8, "uint8": tf.uint8}[recipe.io_type]
        return tfl_convert.mlir_quantize(
            _calibrated(make_converter, options),
            disable_per_channel=not recipe.per_channel,
            input_data_type=io,
            output_data_type=io,
            denylisted_ops=list(recipe.keep_float_ops) or None,
            denylisted_nodes=list(options.keep_float) or None,
        )
    converter = make_converter()
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if options.precision == "fp16":
        converter.target_spec.supported_types = [tf.float16]
    else:
        converter._experimental_disable_per_channel = not recipe.per_channel
    return converter.convert()


def keras_layers(source: Any, options: ExportOptions) -> list[str]:
    """Output tensor names of the conv/dense ops the MLIR quantizer can leave in float."""
    return converter_layers(source.tflite_converter, options)


def converter_layers(make_converter: Callable[[], Any], options: ExportOptions) -> list[str]:
    """`keras_layers` for any TFLiteConverter source (see `convert`)."""
    if options.precision != "int8":
        return []
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=_calibrated(make_converter, options))
    names = {d["index"]: d["name"] for d in interpreter.get_tensor_details()}
    return [
        names[op["outputs"][0]]
        for op in interpreter._get_ops_details()
        if op["op_name"] in LAYER_OPS and len(op["outputs"]) and op["outputs"][0] in names
    ]


def _litert_quantizer(options: ExportOptions) -> Any:
    from litert_torch.quantize import pt2e_quantizer as pq

    recipe = options.need_recipe()
    keep = pt2e.keep_filter(options.keep_float, recipe.keep_float_ops)

    def both(filter_fn: Callable[[Any], bool] | None) -> Callable[[Any], bool]:
        return lambda node: keep(node) and (filter_fn is None or filter_fn(node))

    class KeepFloatQuantizer(pq.PT2EQuantizer):
        """litert-torch's quantizer, leaving the kept modules and op types unannotated."""

        def _annotate_all_static_patterns(self, model: Any, config: Any, filter_fn: Any = None) -> Any:
            return super()._annotate_all_static_patterns(model, config, both(filter_fn))

        def _annotate_all_dynamic_patterns(self, model: Any, config: Any, filter_fn: Any = None) -> Any:
            return super()._annotate_all_dynamic_patterns(model, config, both(filter_fn))

    config = pq.get_symmetric_quantization_config(
        is_per_channel=recipe.per_channel, is_dynamic=options.precision == "int8-dynamic"
    )
    config = pt2e.with_activation_calibration(config, recipe)
    return KeepFloatQuantizer().set_global(config)


def _fp16_weights(model: bytes) -> bytes:
    from ai_edge_quantizer import qtyping, quantizer
    from ai_edge_quantizer.algorithm_manager import AlgorithmName

    q = quantizer.Quantizer(model)
    q.add_weight_only_config(
        regex=".*",
        operation_name=qtyping.TFLOperationName.ALL_SUPPORTED,
        num_bits=16,
        algorithm_key=AlgorithmName.FLOAT_CASTING,
    )
    return bytes(q.quantize(enable_progress_report=False).quantized_model)


def _float_lookups(model: bytes) -> int:
    """How many EMBEDDING_LOOKUP ops read a float32 table."""
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    obj = flatbuffer_utils.read_model_from_bytearray(bytearray(model))
    codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in obj.operatorCodes]
    lookup, float32 = schema.BuiltinOperator.EMBEDDING_LOOKUP, schema.TensorType.FLOAT32
    return sum(
        1
        for subgraph in obj.subgraphs
        for op in subgraph.operators
        if codes[op.opcodeIndex] == lookup and subgraph.tensors[op.inputs[1]].type == float32
    )


def int8_tables(model: bytes) -> bytes:
    """`model` with its float embedding tables stored int8 per row (ai-edge-quantizer).

    litert-torch's PT2E quantizer leaves embeddings float: a transformer's vocabulary table,
    most of its bytes, stayed float32 in an "int8" model. The dynamic (hybrid) config keeps
    the lookup on the int8 table (no DEQUANTIZE of the whole table)."""
    if not _float_lookups(model):
        return model
    from ai_edge_quantizer import qtyping, quantizer

    q = quantizer.Quantizer(model)
    q.add_dynamic_config(regex=".*", operation_name=qtyping.TFLOperationName.EMBEDDING_LOOKUP, num_bits=8)
    return bytes(q.quantize(enable_progress_report=False).quantized_model)


@contextlib.contextmanager
def _strict_qdq() -> Iterator[None]:
    """Convert in litert's strict QDQ mode: only what PT2E annotated is quantized.

    Otherwise the converter also quantizes float layers that sit between quantized ones,
    so layers kept in float would silently become int8 (and I/O would be int8). litert-torch
    0.10 has no public flag for it, so its config class is wrapped for the call's duration."""
    from litert_torch._convert import litert_converter

    api = litert_converter.converter_api_ext
    original = api.ConvertToTFLConfig
    if not hasattr(original(), "strict_qdq_mode"):
        yield
        return

    def strict() -> Any:
        config = original()
        config.strict_qdq_mode = True
        return config

    api.ConvertToTFLConfig = strict
    try:
        yield
    finally:
        api.ConvertToTFLConfig = original


@contextlib.contextmanager
def _static_hint(source: Any) -> Iterator[None]:
    """litert-torch failing on a model with dynamic dimensions: one line naming the size to fix."""
    try:
        yield
    except Exception as exc:
        if not source.ranges:
            raise
        from edge_kit.errors import ExportError

        dims = ", ".join(f"{n} ({r.min}..{r.max})" for n, r in source.ranges.items())
        fix = " ".join(f"--dim {n}={r.max}" for n, r in source.ranges.items())
        raise ExportError(
            f"litert-torch cannot keep the dynamic dimension(s) {dims} in a tflite model "
            f"({type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:120]})",
            hint=f"pass {fix} to make the tflite at one size (onnx and executorch keep it dynamic)",
        ) from exc


def torch(source: Any, options: ExportOptions) -> bytes:
    """A PyTorch source at `options.precision` through litert-torch, as TFLite bytes."""
    litert_torch = import_litert_torch()
    from litert_torch.quantize.quant_config import QuantConfig

    dynamic = source.dynamic_shapes()
    if options.precision in ("fp32", "fp16"):
        with _static_hint(source):
            model = litert_torch.convert(source.module(), source.example_inputs(), dynamic_shapes=dynamic)
        content = bytes(model.model_content())
        return content if options.precision == "fp32" else _fp16_weights(content)
    quantizer = _litert_quantizer(options)
    calibration = options.calibration if options.precision == "int8" else None
    module = pt2e.quantize(source, quantizer, calibration, fold_quantize=False, keep_all=bool(options.keep_float))
    _one_dequantize_per_use(module)
    with _strict_qdq(), _static_hint(source):
        model = litert_torch.convert(
            module, source.example_inputs(), quant_config=QuantConfig(pt2e_quantizer=quantizer), dynamic_shapes=dynamic
        )
    return int8_tables(bytes(model.model_content()))


def _one_dequantize_per_use(module: Any) -> None:
    """Give every user of a shared activation dequantize node its own copy (same q params).

    litert-torch 0.10's layout pass, when it puts a transpose after a dequantize for one user,
    overwrites that dequantize's metadata and then fails on its other users ("Attempting to convert
    non-NHWC compatible node to NHWC: dequantize_per_tensor_1": seen on PP-OCR's hard-swish blocks,
    x * clip(x + 3) / 6, converted from ONNX). One dequantize per use avoids the shared node; the
    converter fuses each (dq, op, q) triplet as before, so the artifact is unchanged otherwise."""
    graph = module.graph
    for node in list(graph.nodes):
        if node.op != "call_function" or "dequantize" not in str(node.target) or len(node.users) < 2:
            continue
        for user in list(node.users)[1:]:
            with graph.inserting_before(user):
                copy = graph.node_copy(node)
            user.replace_input_with(node, copy)
    module.recompile()


def torch_layers(source: Any, options: ExportOptions) -> list[str]:
    """Torch module paths of the conv/linear layers litert-torch's quantizer can skip."""
    if options.precision not in ("int8", "int8-dynamic"):
        return []
    return pt2e.layer_names(pt2e.graph_module(source))
