"""Keras/TensorFlow and TFLite sources as ONNX sources, so ONNX's own bridge (onnx2torch →
torch.export) takes them to ExecuTorch, which they have no direct route to.

The float ONNX model is made by the framework's own ONNX routes, in their order (the first that
converts wins: Keras export, tf2onnx from Keras, tf2onnx on the frozen function; tf2onnx's TFLite
front end), into the export's scratch folder. As in an ONNX export, a route's model must load and
run once in onnxruntime at the export's input signature, else the next route is tried (Keras' own
export leaves a Normalization layer's constants as graph inputs; tf2onnx freezes them). The bridged
source keeps the export's input signature (an NHWC model stays NHWC: onnx2torch converts its
transposes as they are).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from edge_kit.errors import EdgeKitError, ExportError
from edge_kit.signature import TensorSpec

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
            runs_once(path, source.inputs)
        except EdgeKitError as exc:
            failures.append(f"{route.name}: {exc.one_line()}")
            continue
        except Exception as exc:  # noqa: BLE001 - converters raise anything on what they lack
            failures.append(f"{route.name}: {type(exc).__name__}: {first_line(exc, 160)}")
            continue
        bridged = OnnxSource(path)
        bridged.inputs, bridged.ranges = list(source.inputs), dict(source.ranges)
        bridged.bridge_facts = {"bridge_route": route.name}  # recorded in the manifest's artifact
        if failures:
            bridged.bridge_facts["bridge_routes_failed"] = "; ".join(failures)
        return bridged
    raise ExportError(
        f"no {source.framework} → ONNX route converted the model, so it cannot be bridged: " + "; ".join(failures),
        hint="export it to onnx with --debug to see each converter's error",
    )


def runs_once(path: Path, inputs: Sequence[TensorSpec]) -> None:
    """Raise ExportError unless onnxruntime loads the model at `path` and runs it on one random input
    set of `inputs` (the same check an ONNX export's smoke test makes of its artifact)."""
    from edge_kit.exporters.onnx import OnnxRunner
    from edge_kit.signature import random_inputs

    try:
        OnnxRunner(path).run(random_inputs(inputs, 1, seed=0)[0])
    except Exception as exc:  # ORT raises its own types for graphs it rejects
        message = exc.message if isinstance(exc, EdgeKitError) else f"{type(exc).__name__}: {exc}"
        first = next((line for line in message.strip().splitlines() if line.strip()), type(exc).__name__)
        raise ExportError(f"its ONNX model does not run in onnxruntime: {first[:200]}") from exc


def register(registry: Any) -> None:
    from edge_kit.registry import Bridge

    for framework, name in BRIDGES.items():
        registry.add_bridge(Bridge(name, framework, "onnx", to_onnx_source, formats=("executorch",)))
