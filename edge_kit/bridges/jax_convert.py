"""JAX → TFLite through jax2tf + TFLiteConverter; JAX → ONNX through jax2onnx, or jax2tf →
TFLite → tf2onnx when jax2onnx cannot convert the model.

jax 0.10 serializes natively only: jax2tf wraps the function's StableHLO in one `XlaCallModule`
op, which the TFLite converter lowers to builtin ops (SELECT_TF_OPS stay off, so the model runs
in plain LiteRT). tf2onnx cannot read `XlaCallModule`, so the ONNX fallback converts the float
TFLite model with tf2onnx's TFLite front end. jax2onnx traces the jaxpr and cannot follow a
deserialized `jax.export` artifact (`call_exported`): those always take the fallback.

TFLite models get the concrete input shapes (static, what edge runtimes want); ONNX models keep
symbolic dimensions (a dynamic batch stays dynamic). Quantized precisions reuse
`edge_kit.quant.tflite.convert` (converter flags + MLIR quantizer) and `edge_kit.quant.onnx`.
"""

from __future__ import annotations

import contextlib
import logging
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from edge_kit.errors import EdgeKitError, EnvironmentSetupError, ExportError, UsageError
from edge_kit.exporters.base import ExportOptions, package_version
from edge_kit.models.jax_models import JaxSource, first_line

ROUTE_JAX2ONNX = "jax2onnx"
ROUTE_VIA_TFLITE = "jax2tf+tflite+tf2onnx"
ROUTES = ("auto", ROUTE_JAX2ONNX, ROUTE_VIA_TFLITE)
DEFAULT_OPSET = 18  # as edge_kit.exporters.onnx


def _converter_error(exc: BaseException, what: str) -> ExportError:
    """One line from a converter's multi-line message: its most specific `error:` (an op the
    converter lacks rather than the XlaCallModule wrapping it), else its first line."""
    text = str(exc)
    errors = [e.strip() for e in re.findall(r"error: ([^\n]+)", text) if "failed while converting" not in e]
    specific = [e for e in errors if "XlaCallModule" not in e]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    picked = (specific or errors or lines or [type(exc).__name__])[0]
    return ExportError(
        f"{what} failed: {' '.join(picked.split())[:240]}", hint="the model may use an operation the converter lacks"
    )


def tf_function(source: JaxSource, dynamic: bool = False) -> tuple[Any, Any]:
    """(concrete function, tf.function) of the source through jax2tf; `dynamic` keeps the
    declared symbolic dimensions (None in TensorFlow), else the concrete input shapes."""
    from jax.experimental import jax2tf

    from edge_kit.models.tf_models import import_tf

    tf = import_tf()
    specs = (source.declared_inputs() if dynamic else None) or source.inputs
    signature = [tf.TensorSpec(list(s.shape), tf.as_dtype(s.dtype), name=s.name) for s in specs]
    shapes = source.polymorphic_shapes() if dynamic else None
    converted = jax2tf.convert(source.flat_fn, polymorphic_shapes=shapes, with_gradient=False)
    fn = tf.function(converted, input_signature=signature, autograph=False)
    try:
        return fn.get_concrete_function(), fn
    except EdgeKitError:
        raise
    except Exception as exc:  # noqa: BLE001 - jax2tf traces user code: anything may surface here
        raise _converter_error(exc, "jax2tf") from None


def tflite_converter(source: JaxSource, dynamic: bool = False) -> Any:
    """A fresh float TFLiteConverter of the source (builtin ops only)."""
    from edge_kit.models.tf_models import import_tf

    tf = import_tf()
    concrete, fn = tf_function(source, dynamic)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], fn)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    return converter


def tflite_bytes(source: JaxSource, options: ExportOptions, dynamic: bool = False) -> bytes:
    """The source as TFLite at `options.precision` (fp32, fp16, int8-dynamic, int8)."""
    from edge_kit.exporters.tflite import strip_tensor_names
    from edge_kit.quant import tflite as quant

    try:
        if options.precision == "fp32":
            model = tflite_converter(source, dynamic).convert()
        else:
            model = quant.convert(lambda: tflite_converter(source, dynamic), options)
    except EdgeKitError:
        raise
    except Exception as exc:  # noqa: BLE001 - the converter raises ConverterError, RuntimeError, ...
        raise _converter_error(exc, "TFLite conversion") from None
    return strip_tensor_names(model)


def export_tflite(source: JaxSource, dest: Path, options: ExportOptions) -> dict[str, Any]:
    """Write the TFLite model to `dest`; return manifest facts."""
    Path(dest).write_bytes(tflite_bytes(source, options))
    return {"converter": "jax2tf + tf.lite.TFLiteConverter", "precision": options.precision}


def tflite_layers(source: JaxSource, options: ExportOptions) -> list[str]:
    """Names of the conv/dense ops a full-integer export can keep in float."""
    from edge_kit.quant import tflite as quant

    return quant.converter_layers(lambda: tflite_converter(source), options)


@contextlib.contextmanager
def _quiet_jax2onnx() -> Iterator[None]:
    """Hold back the warnings jax2onnx logs on every first run (plugins for packages that are not
    installed, such as equinox and dm-pix, with tracebacks) and onnx_ir's serializer notes."""
    loggers = [logging.getLogger(name) for name in ("jax2onnx", "onnx_ir")]
    levels = [log.level for log in loggers]
    for log in loggers:
        log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for log, level in zip(loggers, levels):
            log.setLevel(level)


def _by_jax2onnx(source: JaxSource, opset: int) -> Any:
    try:
        import jax2onnx
    except ImportError:
        raise EnvironmentSetupError(
            "jax2onnx is not installed",
            hint=f"pip install --no-deps jax2onnx==0.17.1, or use the {ROUTE_VIA_TFLITE} route",
        ) from None
    outputs = [s.name for s in source.output_specs()]
    with _quiet_jax2onnx():
        return jax2onnx.to_onnx(
            source.flat_fn,
            source.polymorphic_specs(),
            opset=opset,
            input_names=source.input_names,
            output_names=outputs,
            model_name=source.path.stem or "jax_model",
        )


def _by_tflite(source: JaxSource, opset: int, dynamic: bool = True) -> Any:
    """`dynamic` keeps the symbolic dimensions; fixed shapes give a graph without tf2onnx's
    shape arithmetic (TopK/Unique for broadcasting), which onnx2torch cannot convert."""
    import tf2onnx
    from keras.src.export.tf2onnx_lib import patch_tf2onnx  # numpy-2 fixes Keras applies too

    model = tflite_converter(source, dynamic=dynamic).convert()
    patch_tf2onnx()
    with tempfile.TemporaryDirectory(prefix="edgekit-jax-") as tmp:
        path = Path(tmp) / "float.tflite"
        path.write_bytes(model)
        proto, _ = tf2onnx.convert.from_tflite(str(path), opset=opset)
    _rename_dims(proto, source)
    return proto


def _rename_dims(proto: Any, source: JaxSource) -> None:
    """Give the inputs' symbolic dimensions their JAX names (`b`, not tf2onnx's `unk__312`)."""
    renames: dict[str, str] = {}
    for value, spec in zip(proto.graph.input, source.polymorphic_specs()):
        for dim, jax_dim in zip(value.type.tensor_type.shape.dim, spec.shape):
            if dim.dim_param and not isinstance(jax_dim, int):
                renames[dim.dim_param] = str(jax_dim)
    for value in [*proto.graph.input, *proto.graph.output, *proto.graph.value_info]:
        for dim in value.type.tensor_type.shape.dim:
            if dim.dim_param in renames:
                dim.dim_param = renames[dim.dim_param]


def onnx_input_dims(proto: Any) -> list[list[int | str]]:
    """Each graph input's dimensions: ints, or the symbol's name for dynamic ones."""
    return [[d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in proto.graph.input]


def _convert_onnx(source: JaxSource, opset: int, route: str, dynamic: bool = True) -> tuple[Any, dict[str, Any]]:
    facts: dict[str, Any] = {}
    if route in ("auto", ROUTE_JAX2ONNX) and source.exported is None:
        try:
            return _by_jax2onnx(source, opset), {"onnx_route": ROUTE_JAX2ONNX}
        except EnvironmentSetupError as exc:
            if route == ROUTE_JAX2ONNX:
                raise
            facts["jax2onnx_failed"] = exc.one_line()
        except EdgeKitError:
            raise
        except Exception as exc:  # noqa: BLE001 - jax2onnx raises assorted errors on what it lacks
            if route == ROUTE_JAX2ONNX:
                raise _converter_error(exc, "jax2onnx") from None
            facts["jax2onnx_failed"] = f"{type(exc).__name__}: {first_line(exc, 200)}"
    elif route == ROUTE_JAX2ONNX:
        raise ExportError(
            "jax2onnx cannot convert a deserialized jax.export artifact (call_exported)",
            hint=f"use the {ROUTE_VIA_TFLITE} route, or export the Python function itself",
        )
    try:
        return _by_tflite(source, opset, dynamic), {**facts, "onnx_route": ROUTE_VIA_TFLITE}
    except EdgeKitError:
        raise
    except Exception as exc:  # noqa: BLE001 - tf2onnx raises assorted errors
        raise _converter_error(exc, "tf2onnx (TFLite front end)") from None


def onnx_fp32(
    source: JaxSource, dest: Path, opset: int | None = None, route: str = "auto", dynamic: bool = True
) -> dict[str, Any]:
    """Write the float ONNX model to `dest`; return facts (route, opset, input dims). `dynamic`
    keeps the declared symbolic dimensions on the TFLite route (jax2onnx keeps them anyway)."""
    import onnx

    if route not in ROUTES:
        raise UsageError(f"unknown JAX → ONNX route '{route}'", hint=f"use one of {', '.join(ROUTES)}")
    proto, facts = _convert_onnx(source, opset or DEFAULT_OPSET, route, dynamic)
    if not proto.graph.node:
        raise ExportError("the JAX → ONNX converter produced an empty graph")
    onnx.save(proto, str(dest))
    opsets = {o.domain or "ai.onnx": o.version for o in proto.opset_import}
    return {**facts, "opset": opsets.get("ai.onnx"), "input_dims": onnx_input_dims(proto)}


def versions() -> dict[str, str | None]:
    """Versions of the packages the JAX routes use."""
    names = ("jax", "jaxlib", "flax", "jax2onnx", "tensorflow-cpu", "tf2onnx", "ai-edge-litert", "onnxruntime")
    return {name: package_version(name) for name in names}


def _not_deserialized(source: JaxSource) -> bool:
    return source.exported is None  # jax2onnx traces jaxprs: it cannot follow call_exported


def to_onnx_source(source: JaxSource, options: ExportOptions) -> Any:
    """A JAX source as an ONNX source (its float ONNX model in the export's scratch folder), so
    ONNX's own bridges (onnx2torch → ExecuTorch) reach formats JAX has no route to."""
    from edge_kit.models.onnx_models import OnnxSource

    path = options.scratch() / "jax-bridge.onnx"
    onnx_fp32(source, path, options.opset, dynamic=bool(source.ranges))  # only the dims the export keeps
    bridged = OnnxSource(path)
    bridged.inputs, bridged.ranges = list(source.inputs), dict(source.ranges)
    return bridged


def register(registry: Any) -> None:
    from edge_kit.exporters.base import PRECISIONS, Route
    from edge_kit.registry import Bridge

    registry.add_bridge(Bridge("jax2onnx", "jax", "onnx", to_onnx_source, formats=("executorch",)))
    from edge_kit.exporters.tflite import CONVERTER_IO_TYPES

    jax_versions = ("jax", "jaxlib")
    registry.add_route(
        Route(
            "jax2tf-tflite",
            "jax",
            "tflite",
            export_tflite,
            PRECISIONS,
            layers=tflite_layers,
            description="jax2tf → tf.lite.TFLiteConverter (builtin ops)",
            versions=(*jax_versions, "tensorflow-cpu"),
            calibration_methods=("minmax",),
            io_types=CONVERTER_IO_TYPES,
        )
    )
    for name, accepts in ((ROUTE_JAX2ONNX, _not_deserialized), (ROUTE_VIA_TFLITE, None)):

        def convert(source: JaxSource, dest: Path, options: ExportOptions, name: str = name) -> dict[str, Any]:
            return onnx_fp32(source, dest, options.opset, name)

        registry.add_route(
            Route(
                name,
                "jax",
                "onnx",
                convert,
                accepts=accepts,
                description="jax2onnx" if name == ROUTE_JAX2ONNX else "jax2tf → TFLite → tf2onnx (TFLite front end)",
                versions=(*jax_versions, "jax2onnx") if name == ROUTE_JAX2ONNX else (*jax_versions, "tf2onnx"),
            )
        )
