"""`edgekit export` as a library call: load → convert (quantize) → validate → measure → manifest.

The artifact and its manifest are written atomically; a failed conversion leaves
nothing behind. An artifact outside tolerance is kept and recorded (status
"mismatch"), as is one whose accuracy drop exceeds `max_accuracy_drop` after the
budget search (status "over_budget"); the caller decides whether that is an error.
"""

from __future__ import annotations

import errno
import shutil
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from edge_kit import budget, progress
from edge_kit.errors import EdgeKitError, ExportError, OutputError, UnsupportedError, UsageError
from edge_kit.exporters import EXPORTERS, Exporter, ExportOptions, get_exporter
from edge_kit.exporters.quiet import quiet_fds
from edge_kit.fsutil import atomic_files, check_writable, sha256_file
from edge_kit.manifest import manifest_path, manifest_text, new_manifest
from edge_kit.models import SourceModel, load_model
from edge_kit.recipes import Recipe, get_recipe, resolve
from edge_kit.signature import random_inputs
from edge_kit.targets import Target, get_target
from edge_kit.validate import STATUS_OK, TOLERANCES, Comparison, Tolerance, compare


@dataclass
class ExportRequest:
    """What to export, how, and how to prove it."""

    model: Path
    target: str = "host"
    format: str | None = None
    precision: str | None = None  # None: the named recipe's precision, else fp32
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
    recipe: str | None = None  # quantization recipe name (default: the path's default recipe)
    calibration: str | Path | None = None  # .npz/.npy, a folder of images, or "random"
    calibration_samples: int | None = None  # default: the recipe's count
    preprocess: dict[str, Any] = field(default_factory=dict)  # image preprocessing overrides
    eval_data: Path | None = None  # .npz with x (and y) for the accuracy report
    max_accuracy_drop: float | None = None  # points; keeps layers in float until it holds
    options: dict[str, Any] = field(default_factory=dict)  # extra ExportOptions fields


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
    raise UnsupportedError(
        f"none of {target.name}'s formats ({', '.join(target.preferred_formats)}) "
        f"can be made from a {source.framework} model at {precision}",
        hint="pick one with --format",
    )


def default_output(model: Path, exporter: Exporter, precision: str) -> Path:
    stem = model.name.split(".")[0] if model.is_file() else model.name
    return model.parent / f"{stem}.{precision}{exporter.suffix}"


@dataclass
class Plan:
    """What an export will do, resolved from the request and the loaded source."""

    exporter: Exporter
    precision: str
    recipe: Recipe | None
    calibration: Any  # edge_kit.calibration.Calibration | None
    evaluator: Any  # edge_kit.accuracy.Evaluator | None


SUGGEST_ABOVE = 1.0  # accuracy drop (points) above which an export names what could reduce it


def _plan(req: ExportRequest, target: Target, source: SourceModel) -> Plan:
    """Format, precision and recipe; calibration and eval data loaded and checked (before writing)."""
    named = get_recipe(req.recipe) if req.recipe else None
    precision = req.precision or (named.precision if named else "fp32")
    fmt = req.format or (named.format if named else None)
    exporter = get_exporter(fmt) if fmt else choose_format(target, source, precision)
    exporter.check(source, precision)
    recipe = resolve(exporter.name, precision, source.framework, req.recipe)
    from edge_kit.calibration import load_calibration

    calibration = load_calibration(req.calibration, source.inputs, recipe, req.calibration_samples, req.preprocess)
    if req.max_accuracy_drop is not None and req.eval_data is None:
        raise UsageError(
            "--max-accuracy-drop needs held-out data to measure the drop on",
            hint="pass --eval data.npz (arrays x and, for accuracy, labels y)",
        )
    evaluator = None
    if req.eval_data is not None:
        from edge_kit.accuracy import Evaluator, load_eval

        with progress.step("running the source model on the eval set"):
            evaluator = Evaluator.create(load_eval(req.eval_data, source.inputs), source)
    return Plan(exporter, precision, recipe, calibration, evaluator)


def _validation_batches(req: ExportRequest, source: SourceModel, plan: Plan) -> tuple[list[list[Any]], str]:
    """--sample-inputs, else the eval inputs, else the calibration inputs, else random inputs."""
    if req.sample_inputs is not None:
        from edge_kit.data import load_inputs

        return load_inputs(req.sample_inputs, source.inputs, req.num_samples), str(req.sample_inputs)
    if plan.evaluator is not None:
        return plan.evaluator.evalset.batches[: req.num_samples], f"{plan.evaluator.evalset.path} (eval inputs)"
    if plan.calibration is not None and plan.calibration.description["kind"] != "random":
        return plan.calibration.batches[: req.num_samples], "calibration inputs"
    low, high = req.input_range
    return random_inputs(
        source.inputs, req.num_samples, seed=0, low=low, high=high
    ), f"random uniform [{low}, {high}) seed 0"


def _convert(exporter: Exporter, source: SourceModel, dest: Path, options: ExportOptions) -> dict[str, Any]:
    try:
        source = _prepared_source(source, options)
        with quiet_fds():
            return exporter.export(source, dest, options)
    except EdgeKitError:
        raise
    except Exception as exc:
        if _disk_full(exc):
            raise OutputError(
                f"no space left on the device for the converter's scratch files ({dest.parent})",
                hint="free some space, or point TMPDIR at a larger disk",
            ) from exc
        first = next((line for line in str(exc).strip().splitlines() if line.strip()), type(exc).__name__)
        raise ExportError(
            f"{exporter.name} conversion failed: {type(exc).__name__}: {first[:240]}",
            hint="rerun with --debug for the converter's traceback",
        ) from exc


def _prepared_source(source: SourceModel, options: ExportOptions) -> SourceModel:
    """The torch source to quantize: channels equalized and weight rounding bias corrected when
    the recipe asks (measured once per export; corrections skip the layers kept in float)."""
    recipe = options.recipe
    if recipe is None or source.framework != "torch" or not recipe.prepares_source:
        return source
    extra = options.extra
    if "prepared_program" not in extra:
        from edge_kit.quant import bias_correction
        from edge_kit.quant.equalize import equalize

        program = source.exported_program  # type: ignore[attr-defined]
        if recipe.equalize_streams or recipe.equalize_activations:
            with progress.step("equalizing channels on the calibration data"):
                program, done = equalize(
                    program,
                    options.calibration or [],
                    streams=recipe.equalize_streams,
                    activations=recipe.equalize_activations,
                )
            extra["equalized"] = done
            progress.log("equalized " + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in done.items()))
        extra["prepared_program"], extra["bias_corrections"] = program, []
        if recipe.bias_correction:
            with progress.step("measuring int8 weight rounding bias on the calibration data"):
                extra["bias_corrections"] = bias_correction.measure(program, options.calibration or [], recipe.format)
    program, corrected = _bias_corrected(extra["prepared_program"], options)
    if recipe.bias_correction:
        extra["bias_corrected"] = {"layers": corrected}
    return source.with_program(program)  # type: ignore[attr-defined]


def _bias_corrected(program: Any, options: ExportOptions) -> tuple[Any, int]:
    from edge_kit.quant import bias_correction, pt2e

    quantized = pt2e.keep_filter(options.keep_float, options.recipe.keep_float_ops)
    return bias_correction.corrected(program, options.extra["bias_corrections"], quantized)


def _disk_full(exc: BaseException | None) -> bool:
    """Whether an OSError 'no space left' is somewhere in an exception's chain."""
    for _ in range(20):
        if exc is None:
            return False
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def export(req: ExportRequest) -> ExportResult:
    """Export (quantize), validate, measure and write the artifact plus its manifest."""
    target = get_target(req.target)
    if req.format:
        get_exporter(req.format)  # an unknown format fails before the model loads
    if req.output is not None:
        check_writable(Path(req.output))
    timings: dict[str, float] = {}
    start = time.perf_counter()
    with progress.step(f"loading {Path(req.model).name}"):
        source = load_model(
            Path(req.model),
            input_shapes=req.input_shapes,
            input_dtypes=req.input_dtypes,
            model_class=req.model_class,
            trust=req.trust_model,
        )
    timings["load_s"] = time.perf_counter() - start
    plan = _plan(req, target, source)
    exporter = plan.exporter
    if exporter.deprecation:
        progress.warn(exporter.deprecation)
    dest = Path(req.output) if req.output else default_output(Path(req.model), exporter, plan.precision)
    check_writable(dest)
    check_writable(manifest_path(dest))
    options = ExportOptions(
        precision=plan.precision,
        opset=req.opset,
        onnx_exporter=req.onnx_exporter,
        portable=req.portable,
        recipe=plan.recipe,
        calibration=plan.calibration.batches if plan.calibration else None,
        **req.options,
    )
    batches, inputs_desc = _validation_batches(req, source, plan)
    tolerance = req.tolerance or TOLERANCES[plan.precision]
    with tempfile.TemporaryDirectory(prefix="edgekit-export-") as work:
        # Converters write into a private scratch folder (a converter that dies on a full disk,
        # like LLVM's exit(1), then leaves nothing in the output folder); the finished
        # artifact and its manifest are published together at the very end.
        options.workdir = Path(work)
        staged = Path(work) / "artifact" / f"artifact{exporter.suffix}"
        staged.parent.mkdir()
        start = time.perf_counter()
        with progress.step(f"converting to {exporter.name} ({plan.recipe.name if plan.recipe else plan.precision})"):
            facts = _convert(exporter, source, staged, options)
        timings["export_s"] = time.perf_counter() - start
        measured = _measure(req, plan, source, staged, options, timings)
        start = time.perf_counter()
        with progress.step(f"validating in {exporter.runtime} on {len(batches)} inputs"):
            runner = exporter.load(staged, source.inputs)
            comparison = compare(source, runner, batches, tolerance)
        timings["validate_s"] = time.perf_counter() - start
        manifest = _manifest(
            req,
            source,
            exporter,
            target,
            staged,
            facts,
            runner,
            comparison,
            inputs_desc,
            timings,
            dest,
            plan,
            measured,
            _quantization(plan, options),
        )
        path = _publish(staged, dest, manifest)
    _report(comparison, exporter, dest, measured)
    _suggest(measured, plan.recipe, source.framework)
    return ExportResult(artifact=dest, manifest_path=path, manifest=manifest)


def _suggest(measured: dict[str, Any] | None, recipe: Any, framework: str) -> None:
    """After a static int8 export that lost more than a point with no budget set, name what
    could win it back."""
    from edge_kit.recipes import equalized_alternatives

    if (
        not measured
        or recipe is None
        or recipe.precision != "int8"
        or "budget" in measured
        or measured["drop"] <= SUGGEST_ABOVE
    ):
        return
    others = equalized_alternatives(recipe, framework)
    tried = f"--recipe {others[0]} (equalization and bias correction first, docs/quantization.md) or " if others else ""
    progress.log(
        f"hint: int8 cost {measured['drop']:.2f} points; try {tried}--max-accuracy-drop "
        f"{SUGGEST_ABOVE} (keeps the most sensitive layers in float)"
    )


def _publish(staged: Path, dest: Path, manifest: dict[str, Any]) -> Path:
    """Write the artifact and its manifest next to each other, both or neither."""
    path = manifest_path(dest)
    with atomic_files(dest, path) as (tmp_artifact, tmp_manifest):
        shutil.copyfile(staged, tmp_artifact)
        tmp_manifest.write_text(manifest_text(manifest), encoding="utf-8")
    return path


def _measure(
    req: ExportRequest, plan: Plan, source: SourceModel, tmp: Path, options: ExportOptions, timings: dict[str, float]
) -> dict[str, Any] | None:
    """The accuracy section: measured in the artifact's runtime, with the budget search if asked."""
    if plan.evaluator is None:
        return None
    exporter, evaluator = plan.exporter, plan.evaluator
    start = time.perf_counter()
    with progress.step(f"measuring {evaluator.metric} in {exporter.runtime} on {evaluator.evalset.samples} samples"):
        initial = evaluator.measure(exporter.load(tmp, source.inputs))
    section: dict[str, Any] = initial.to_dict()
    if req.max_accuracy_drop is not None:
        if initial.resolution > req.max_accuracy_drop:
            progress.warn(
                f"{initial.samples} eval samples: one sample moves {initial.metric} by "
                f"{initial.resolution:.2f} points, more than the {req.max_accuracy_drop}-point budget, "
                "so the budget allows no changed prediction at all; use a larger eval set"
            )

        def build(keep: tuple[str, ...]) -> Any:
            _convert(exporter, source, tmp, replace(options, keep_float=keep))
            acc = evaluator.measure(exporter.load(tmp, source.inputs))
            progress.log(
                f"  {len(keep)} layer(s) in float: {acc.metric} {acc.artifact:.2f}%, drop {acc.drop:.2f}, "
                f"output error {acc.output_error:.3g}"
            )
            return acc

        layers = exporter.quantizable_layers(source, options) if initial.drop > req.max_accuracy_drop else []
        if initial.drop > req.max_accuracy_drop:
            progress.log(
                f"drop {initial.drop:.2f} points > budget {req.max_accuracy_drop}: "
                f"searching {len(layers)} layers to keep in float"
            )
        search = budget.fit(build, layers, initial, req.max_accuracy_drop)
        section = {**search.final.to_dict(), "budget": search.to_dict()}
        options.keep_float = search.keep_float
    timings["accuracy_s"] = time.perf_counter() - start
    return section


def _quantization(plan: Plan, options: ExportOptions) -> dict[str, Any] | None:
    if plan.recipe is None:
        return None
    calibration = plan.calibration.description if plan.calibration else None
    section = {
        "recipe": plan.recipe.name,
        "tool": plan.recipe.tool,
        "settings": plan.recipe.settings(),
        "calibration": calibration,
        "keep_float": list(options.keep_float),
    }
    for key in ("equalized", "bias_corrected"):
        if key in options.extra:
            section[key] = options.extra[key]
    return section


def _status(comparison: Comparison, measured: dict[str, Any] | None) -> str:
    if measured and measured.get("budget", {}).get("status") == budget.OVER:
        return budget.OVER
    return comparison.status


def _manifest(
    req: ExportRequest,
    source: SourceModel,
    exporter: Exporter,
    target: Target,
    tmp: Path,
    facts: dict[str, Any],
    runner: Any,
    comparison: Comparison,
    inputs_desc: str,
    timings: dict[str, float],
    dest: Path,
    plan: Plan,
    measured: dict[str, Any] | None,
    quantization: dict[str, Any] | None,
) -> dict[str, Any]:
    outputs = runner.outputs or source.output_specs()
    extra = {k: v for k, v in (("quantization", quantization), ("accuracy", measured)) if v}
    return new_manifest(
        status=_status(comparison, measured),
        artifact={
            "file": dest.name,
            "format": exporter.name,
            "runtime": exporter.runtime,
            "precision": plan.precision,
            "sha256": sha256_file(tmp),
            "size_bytes": tmp.stat().st_size,
            **facts,
        },
        source={**source.describe(), "sha256": sha256_file(source.path)},
        target=target.summary(),
        inputs=[s.to_dict() for s in runner.inputs],
        source_inputs=[s.to_dict() for s in source.inputs],
        outputs=[s.to_dict() for s in outputs],
        validation={**comparison.to_dict(), "inputs": inputs_desc},
        **extra,
        versions=exporter.versions(source),
        timings_s={k: round(v, 3) for k, v in timings.items()},
    )


def _report(comparison: Comparison, exporter: Exporter, dest: Path, measured: dict[str, Any] | None) -> None:
    if comparison.status == STATUS_OK:
        progress.log(
            f"wrote {dest} ({exporter.name}); validation ok: max abs diff "
            f"{comparison.max_abs_diff:.2e}, cosine {comparison.cosine_similarity:.6f}"
        )
    else:
        progress.warn(f"wrote {dest} but it is outside tolerance: {'; '.join(comparison.reasons)}")
    if measured:
        from edge_kit.accuracy import summary

        progress.log(summary(measured, exporter.name))
