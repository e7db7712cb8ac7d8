"""Keras/TensorFlow and TFLite sources as ONNX sources, so ONNX's own bridge (onnx2torch →
torch.export) takes them to ExecuTorch, which they have no direct route to.

The float ONNX model is made by the framework's own ONNX routes, in their order (the first that
converts wins: Keras export, tf2onnx from Keras, tf2onnx on the frozen function; tf2onnx's TFLite
front end), into the export's scratch folder. The bridged source keeps the export's input
signature (an NHWC model stays NHWC: onnx2torch converts its transposes as they are).
"""

from __future__ import annotations

from typing import Any

from edge_kit.errors import EdgeKitError, ExportError

BRIDGES = {"tensorflow": "tf-onnx", "tflite": "tflite-onnx"}  # bridge names (routes are named bridge+route)


def to_onnx_source(source: Any, options: Any) -> Any:
    """The source's float ONNX model (its framework's ONNX routes, first success) as an OnnxSource."""
    from edge_kit.bridges.onnx_to_torch import first_line
    from edge_kit.models.onnx_models import OnnxSource
    from edge_kit.registry import registry

    path = options.scratch() / f"{source.framework}-bridge.onnx"
    failures: list[str] = []
    for route in registry().routes.get((source.framework, "onnx"), []):
        if route.accepts is not None and not route.accepts(source):
            continue
        try:
            route.convert(source, path, options)
        except EdgeKitError as exc:
            failures.append(f"{route.name}: {exc.one_line()}")
            continue
        except Exception as exc:  # noqa: BLE001 - converters raise anything on what they lack
            failures.append(f"{route.name}: {type(exc).__name__}: {first_line(exc, 160)}")
            continue
        bridged = OnnxSource(path)
        bridged.inputs, bridged.ranges = list(source.inputs), dict(source.ranges)
        return bridged
    raise ExportError(
        f"no {source.framework} → ONNX route converted the model, so it cannot be bridged: " + "; ".join(failures),
        hint="export it to onnx with --debug to see each converter's error",
    )


def register(registry: Any) -> None:
    from edge_kit.registry import Bridge

    for framework, name in BRIDGES.items():
        registry.add_bridge(Bridge(name, framework, "onnx", to_onnx_source, formats=("executorch",)))
