"""The metadata that travels with a packaged model (its type: edge_kit.documents.package_metadata).

One document per bundle, built from the artifact's manifest plus what only the user
knows (labels, input normalization). It ships beside the model as
`<name>.metadata.json` for every format and, for TFLite, inside the model file too.
Paths from the export machine are reduced to file names: bundles never carry them.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_kit import __version__
from edge_kit.documents.package_metadata import SCHEMA as SCHEMA_ID
from edge_kit.documents.package_metadata import SCHEMA_VERSION
from edge_kit.errors import DataError, UnsupportedError, UsageError

FORMULA = "model_input = (raw * scale - mean[c]) / std[c], c = index along channel_axis"
CHANNEL_AXIS = {"NCHW": 1, "NHWC": 3, "NCW": 1, "NWC": 2}
NORMALIZED_DTYPES = ("float32", "float16", "int8", "uint8")
VALIDATION_KEYS = (
    "status",
    "samples",
    "max_abs_diff",
    "mean_abs_diff",
    "cosine_similarity",
    "top1_agreement",
    "tolerance",
)
ACCURACY_KEYS = ("metric", "source", "artifact", "drop", "samples", "data")


@dataclass(frozen=True)
class Normalization:
    """`model_input = (raw * scale - mean[c]) / std[c]`; None fields: not given by the user."""

    scale: float | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None

    @property
    def given(self) -> bool:
        return any(v is not None for v in (self.scale, self.mean, self.std))


def schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) every metadata document satisfies (generated from
    `edge_kit.documents.package_metadata.PackageMetadata`)."""
    from edge_kit.documents import shipped_schema

    return shipped_schema("package-metadata")


def read_labels(path: Path) -> list[str]:
    """One label per line (UTF-8); trailing blank lines are ignored, inner ones are an error."""
    try:
        text = Path(path).read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise DataError(f"labels file {path} does not exist", hint="check the --labels path") from None
    except IsADirectoryError:
        raise DataError(f"labels file {path} is a directory", hint="pass a text file, one label per line") from None
    except UnicodeDecodeError:
        raise DataError(
            f"labels file {Path(path).name} is not UTF-8 text", hint="save it as UTF-8, one label per line"
        ) from None
    labels = [line.strip() for line in text.splitlines()]
    while labels and not labels[-1]:
        labels.pop()
    if not labels:
        raise DataError(f"labels file {Path(path).name} is empty", hint="write one label per line")
    if "" in labels:
        raise DataError(
            f"labels file {Path(path).name} has a blank line at line {labels.index('') + 1}",
            hint="write one label per line, without blank lines",
        )
    return labels


def _static_shape(spec: dict[str, Any], kind: str) -> list[int]:
    shape = spec.get("shape") or []
    if not shape or not all(isinstance(d, int) and d > 0 for d in shape):
        raise UnsupportedError(
            f"{kind} '{spec.get('name')}' has a non-static shape {shape}",
            hint="packaging needs static shapes; export with a fixed --input-shape",
        )
    return list(shape)


def _quant(spec: dict[str, Any]) -> dict[str, Any] | None:
    if spec.get("scale") is None:
        return None
    return {"scale": float(spec["scale"]), "zero_point": int(spec.get("zero_point") or 0)}


def _normalization(
    spec: dict[str, Any], shape: list[int], norm: Normalization, manifest: dict[str, Any]
) -> dict[str, Any] | None:
    if spec["dtype"] not in NORMALIZED_DTYPES:
        return None
    scale, source = 1.0, "none given: inputs are fed to the model as they are"
    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)
    pre = ((manifest.get("quantization") or {}).get("calibration") or {}).get("preprocess")
    if norm.given:
        source = "given to edgekit package"
    elif isinstance(pre, dict):
        norm = Normalization(pre.get("scale"), tuple(pre.get("mean") or (0.0,)), tuple(pre.get("std") or (1.0,)))
        source = "the image preprocessing used to calibrate the quantized export"
    scale = float(norm.scale) if norm.scale is not None else scale
    mean = tuple(float(v) for v in norm.mean) if norm.mean is not None else mean
    std = tuple(float(v) for v in norm.std) if norm.std is not None else std
    axis = CHANNEL_AXIS.get(spec.get("layout") or "") if len(shape) == len(spec.get("layout") or "") else None
    channels = shape[axis] if axis is not None else 1
    for label, values in (("--mean", mean), ("--std", std)):
        if len(values) not in (1, channels):
            raise UsageError(
                f"{label} has {len(values)} values but input '{spec['name']}' "
                f"({spec.get('layout') or 'no layout'}, shape {shape}) has {channels} channel(s)",
                hint=f"give 1 or {channels} values" if channels > 1 else "give 1 value",
            )
    if scale <= 0 or any(s == 0 for s in std):
        raise UsageError("--scale must be > 0 and --std values non-zero")
    return {
        "scale": scale,
        "mean": list(mean),
        "std": list(std),
        "channel_axis": axis,
        "formula": FORMULA,
        "source": source,
    }


def _classes(outputs: list[dict[str, Any]]) -> int | None:
    """Number of classes when output 0 looks like one row of class scores ([1, N] or [N])."""
    if not outputs:
        return None
    shape = outputs[0]["shape"]
    if len(shape) in (1, 2) and (len(shape) == 1 or shape[0] == 1) and shape[-1] > 1:
        return int(shape[-1])
    return None


def _check_labels(labels: list[str] | None, outputs: list[dict[str, Any]], origin: str) -> None:
    if labels is None:
        return
    classes = _classes(outputs)
    if classes != len(labels):
        out = outputs[0] if outputs else {"name": "(none)", "shape": []}
        what = f"{classes} classes" if classes else "no class axis"
        raise DataError(
            f"{origin} has {len(labels)} labels but output '{out['name']}' (shape {out['shape']}) has {what}",
            hint="give exactly one label per class, in output order",
        )


def _inputs(manifest: dict[str, Any], norm: Normalization) -> list[dict[str, Any]]:
    rows = []
    for spec in manifest["inputs"]:
        shape = _static_shape(spec, "input")
        rows.append(
            {
                "name": spec["name"],
                "shape": shape,
                "dtype": spec["dtype"],
                "layout": spec.get("layout"),
                "quantization": _quant(spec),
                "normalization": _normalization(spec, shape, norm, manifest),
            }
        )
    return rows


def _outputs(manifest: dict[str, Any], labels: list[str] | None) -> list[dict[str, Any]]:
    rows = []
    for spec in manifest["outputs"]:
        rows.append(
            {
                "name": spec["name"],
                "shape": _static_shape(spec, "output"),
                "dtype": spec["dtype"],
                "layout": spec.get("layout"),
                "quantization": _quant(spec),
                "meaning": "",
            }
        )
    classes = _classes(rows)
    for i, row in enumerate(rows):
        if i == 0 and classes:
            named = f"; labels[i] names class i ({len(labels)} labels)" if labels else ""
            row["meaning"] = (
                f"one score per class over {classes} classes (logits or probabilities, as "
                f"the source model returns them); the predicted class is the argmax{named}"
            )
        else:
            row["meaning"] = "raw output tensor of the model (dequantized with scale/zero_point when set)"
    return rows


def _basename(value: Any) -> Any:
    return Path(value).name if isinstance(value, str) and ("/" in value or "\\" in value) else value


def _sections(manifest: dict[str, Any]) -> dict[str, Any]:
    """validation, accuracy, quantization and source, without host paths."""
    validation = {k: manifest["validation"][k] for k in VALIDATION_KEYS if k in manifest.get("validation", {})}
    accuracy = manifest.get("accuracy")
    if accuracy:
        accuracy = {k: _basename(accuracy[k]) for k in ACCURACY_KEYS if k in accuracy}
    quant = manifest.get("quantization")
    if quant:
        calibration = quant.get("calibration") or {}
        quant = {
            "recipe": quant.get("recipe"),
            "tool": quant.get("tool"),
            "settings": quant.get("settings"),
            "keep_float": quant.get("keep_float", []),
            "calibration": {k: calibration[k] for k in ("kind", "samples") if k in calibration} or None,
        }
    source = manifest.get("source", {})
    return {
        "validation": validation or {"status": manifest.get("status", "unknown")},
        "accuracy": accuracy or None,
        "quantization": quant or None,
        "source": {
            "kind": source.get("kind", "unknown"),
            "framework": source.get("framework", "unknown"),
            "sha256": source.get("sha256", ""),
        },
    }


def build_metadata(
    manifest: dict[str, Any],
    *,
    name: str,
    version: str,
    model_file: str,
    labels: list[str] | None,
    labels_origin: str,
    normalization: Normalization,
    embedded: bool,
) -> dict[str, Any]:
    """The metadata document of one bundle (raises DataError/UsageError before anything is written)."""
    artifact, target = manifest["artifact"], manifest.get("target") or {}
    outputs = _outputs(manifest, labels)
    _check_labels(labels, outputs, labels_origin)
    return {
        "schema": SCHEMA_ID,
        "schema_version": SCHEMA_VERSION,
        "name": name,
        "version": version,
        "model": {
            "file": model_file,
            "format": artifact["format"],
            "runtime": artifact.get("runtime", ""),
            "precision": artifact.get("precision", ""),
            "exported_sha256": artifact["sha256"],
            "exported_size_bytes": int(artifact.get("size_bytes") or 1),
            "metadata_embedded": embedded,
        },
        "task": "classification" if _classes(outputs) else "tensor",
        "inputs": _inputs(manifest, normalization),
        "outputs": outputs,
        "labels": labels,
        "target": {
            "name": target.get("name", "host"),
            "description": target.get("description", ""),
            "arch": target.get("arch", ""),
        },
        **_sections(manifest),
        "versions": {k: str(v) for k, v in sorted((manifest.get("versions") or {}).items())},
        "edgekit_version": __version__,
    }


def _finite(value: Any) -> Any:
    """NaN/inf (JSON has none) become null, recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _dump(value: Any, depth: int) -> str:
    """Indented JSON whose lists of numbers (shapes, means) stay on one line."""
    pad = "  " * (depth + 1)
    if isinstance(value, dict) and value:
        items = [f"{pad}{json.dumps(k, ensure_ascii=False)}: {_dump(v, depth + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + "  " * depth + "}"
    if isinstance(value, list) and value and not all(isinstance(v, (int, float)) for v in value):
        return "[\n" + ",\n".join(pad + _dump(v, depth + 1) for v in value) + "\n" + "  " * depth + "]"
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


def to_json(metadata: dict[str, Any]) -> bytes:
    """The canonical bytes of a metadata document (the same in the sidecar and inside a TFLite model)."""
    return (_dump(_finite(metadata), 0) + "\n").encode("utf-8")
