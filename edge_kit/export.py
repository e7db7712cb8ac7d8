"""`edgekit export` as a library call: load → convert → validate → manifest.

The artifact and its manifest are written atomically; a failed conversion leaves
nothing behind. An artifact outside tolerance is kept and recorded (status
"mismatch"); the caller decides whether that is an error.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge_kit import progress
from edge_kit.errors import EdgeKitError, ExportError, UnsupportedError
from edge_kit.exporters import EXPORTERS, Exporter, ExportOptions, get_exporter
from edge_kit.exporters.quiet import quiet_fds
from edge_kit.fsutil import atomic_path, check_writable, sha256_file
from edge_kit.manifest import manifest_path, new_manifest, write_manifest
from edge_kit.models import SourceModel, load_model
from edge_kit.signature import random_inputs
from edge_kit.targets import Target, get_target
from edge_kit.validate import STATUS_OK, TOLERANCES, Comparison, Tolerance, compare


@dataclass
class ExportRequest:
    """What to export, how, and how to prove it."""

    model: Path
    target: str = "host"
    format: str | None = None
    precision: str = "fp32"
    output: Path | None = None
    input_shapes: list[tuple[int, ...]] = field(default_factory=list)
    input_dtypes: list[str] = field(default_factory=list)
    model_class: str | None = None
    trust_model: bool = False
    opset: int | None = None
    onnx_exporter: str = "dynamo"
    portable: bool = False
    sample_inputs: Path | None = None
    num_samples: int = 10
    input_range: tuple[float, float] = (0.0, 1.0)
    tolerance: Tolerance | None = None
    options: dict[str, Any] = field(default_factory=dict)  # quantization settings (recipe, calibration...)


@dataclass
class ExportResult:
    artifact: Path
    manifest_path: Path
    manifest: dict[str, Any]

    @property
    def status(self) -> str:
        return str(self.manifest["status"])


def choose_format(target: Target, source: SourceModel, precision: str) -> Exporter:
    """The target's most preferred format that can be made from this source at this precision."""
    for name in target.preferred_formats:
        exporter = EXPORTERS[name]
        if precision in exporter.support.get(source.framework, ()):
            return exporter
    raise UnsupportedError(f"none of {target.name}'s formats ({', '.join(target.preferred_formats)}) "
                           f"can be made from a {source.framework} model at {precision}",
                           hint="pick one with --format")


def default_output(model: Path, exporter: Exporter, precision: str) -> Path:
    stem = model.name.split(".")[0] if model.is_file() else model.name
    return model.parent / f"{stem}.{precision}{exporter.suffix}"


def _validation_batches(req: ExportRequest, source: SourceModel) -> tuple[list[list[Any]], str]:
    if req.sample_inputs is not None:
        from edge_kit.data import load_inputs

        return load_inputs(req.sample_inputs, source.inputs, req.num_samples), str(req.sample_inputs)
    low, high = req.input_range
    return random_inputs(source.inputs, req.num_samples, seed=0, low=low, high=high), \
        f"random uniform [{low}, {high}) seed 0"


def _convert(exporter: Exporter, source: SourceModel, dest: Path, options: ExportOptions) -> dict[str, Any]:
    try:
        with quiet_fds():
            return exporter.export(source, dest, options)
    except EdgeKitError:
        raise
    except Exception as exc:  # noqa: BLE001 - converters raise anything; report one line
        first = next((line for line in str(exc).strip().splitlines() if line.strip()), type(exc).__name__)
        raise ExportError(f"{exporter.name} conversion failed: {type(exc).__name__}: {first[:240]}",
                          hint="rerun with --debug for the converter's traceback") from exc


def export(req: ExportRequest) -> ExportResult:
    """Export, validate and write the artifact plus its manifest."""
    target = get_target(req.target)
    exporter = get_exporter(req.format) if req.format else None
    if req.output is not None:
        check_writable(Path(req.output))
    timings: dict[str, float] = {}
    start = time.perf_counter()
    with progress.step(f"loading {Path(req.model).name}"):
        source = load_model(Path(req.model), input_shapes=req.input_shapes, input_dtypes=req.input_dtypes,
                            model_class=req.model_class, trust=req.trust_model)
    timings["load_s"] = time.perf_counter() - start
    exporter = exporter or choose_format(target, source, req.precision)
    exporter.check(source, req.precision)
    if exporter.deprecation:
        progress.warn(exporter.deprecation)
    dest = Path(req.output) if req.output else default_output(Path(req.model), exporter, req.precision)
    check_writable(dest)
    check_writable(manifest_path(dest))
    options = ExportOptions(precision=req.precision, opset=req.opset, onnx_exporter=req.onnx_exporter,
                            portable=req.portable, **req.options)
    batches, inputs_desc = _validation_batches(req, source)
    tolerance = req.tolerance or TOLERANCES[req.precision]
    with atomic_path(dest) as tmp:
        start = time.perf_counter()
        with progress.step(f"converting to {exporter.name} ({req.precision})"):
            facts = _convert(exporter, source, tmp, options)
        timings["export_s"] = time.perf_counter() - start
        start = time.perf_counter()
        with progress.step(f"validating in {exporter.runtime} on {len(batches)} inputs"):
            runner = exporter.load(tmp, source.inputs)
            comparison = compare(source, runner, batches, tolerance)
        timings["validate_s"] = time.perf_counter() - start
        manifest = _manifest(req, source, exporter, target, tmp, facts, runner, comparison,
                             inputs_desc, timings, dest)
        # The artifact is renamed into place when this block ends, then the manifest follows.
    path = write_manifest(dest, manifest)
    _report(comparison, exporter, dest)
    return ExportResult(artifact=dest, manifest_path=path, manifest=manifest)


def _manifest(req: ExportRequest, source: SourceModel, exporter: Exporter, target: Target, tmp: Path,
              facts: dict[str, Any], runner: Any, comparison: Comparison, inputs_desc: str,
              timings: dict[str, float], dest: Path) -> dict[str, Any]:
    outputs = runner.outputs or source.output_specs()
    return new_manifest(
        status=comparison.status,
        artifact={"file": dest.name, "format": exporter.name, "runtime": exporter.runtime,
                  "precision": req.precision, "sha256": sha256_file(tmp),
                  "size_bytes": tmp.stat().st_size, **facts},
        source={**source.describe(), "sha256": sha256_file(source.path)},
        target=target.summary(),
        inputs=[s.to_dict() for s in runner.inputs],
        source_inputs=[s.to_dict() for s in source.inputs],
        outputs=[s.to_dict() for s in outputs],
        validation={**comparison.to_dict(), "inputs": inputs_desc},
        versions=exporter.versions(source),
        timings_s={k: round(v, 3) for k, v in timings.items()},
    )


def _report(comparison: Comparison, exporter: Exporter, dest: Path) -> None:
    if comparison.status == STATUS_OK:
        progress.log(f"wrote {dest} ({exporter.name}); validation ok: max abs diff "
                     f"{comparison.max_abs_diff:.2e}, cosine {comparison.cosine_similarity:.6f}")
    else:
        progress.warn(f"wrote {dest} but it is outside tolerance: {'; '.join(comparison.reasons)}")
