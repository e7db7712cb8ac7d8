"""The export stages, in order: load → plan → prepare → convert → validate → measure → publish.

Each stage reads what the earlier ones put in the `ExportContext` and adds its own part;
none of them branches on a framework or a format name — that is what the registries are for.
Conversion tries the candidate routes in order (convert, quantize, load in the runtime, one
inference); the first that works is used, and the manifest records why the others failed.
"""

from __future__ import annotations

import errno
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

from edge_kit import progress, registry
from edge_kit.errors import (
    DataError,
    EdgeKitError,
    ExportError,
    OutputError,
    TrustError,
    UnsupportedError,
    UsageError,
)
from edge_kit.exporters.base import ExportOptions, Format, Route
from edge_kit.exporters.quiet import quiet_fds
from edge_kit.fsutil import atomic_files, check_writable
from edge_kit.manifest import manifest_path, manifest_text
from edge_kit.models.base import SourceModel
from edge_kit.pipeline.context import ExportContext
from edge_kit.recipes import Recipe, get_recipe, names_for, resolve
from edge_kit.signature import random_inputs
from edge_kit.validate import TOLERANCES, compare

# Errors about the user's input, not a route's: they stop the export instead of trying another route.
NOT_ROUTE_FAILURES = (UsageError, DataError, TrustError, OutputError)


def load(ctx: ExportContext) -> None:
    from edge_kit.inputspec import input_specs, sizes
    from edge_kit.models import LoadOptions, from_object, load_model

    req = ctx.request
    options = LoadOptions(
        req.input_shapes,
        req.input_dtypes,
        req.model_class,
        req.trust_model,
        req.example_inputs,
        input_specs(req.input_specs),
        sizes(req.dims),
    )
    if req.params is not None:
        options.extra["params"] = req.params
    if isinstance(req.model, (str, Path)):
        with progress.step(f"loading {Path(req.model).name}"):
            ctx.source = load_model(
                Path(req.model),
                input_shapes=req.input_shapes,
                input_dtypes=req.input_dtypes,
                model_class=req.model_class,
                trust=req.trust_model,
                input_specs=options.input_specs,
                dims=options.dims,
            )
    else:
        with progress.step(f"reading the {type(req.model).__name__}"):
            ctx.source = from_object(req.model, options)


def choose_format(ctx: ExportContext, precision: str) -> str:
    """The target's most preferred format that can be made from this source at this precision."""
    framework = ctx.need_source().framework
    for name in ctx.target.preferred_formats:
        if precision in registry.precisions(framework, name):
            return name
    raise UnsupportedError(
        f"none of {ctx.target.name}'s formats ({', '.join(ctx.target.preferred_formats)}) "
        f"can be made from a {framework} model at {precision}",
        hint="pick one with --format",
    )


def candidate_routes(framework: str, fmt: str, precision: str, forced: str | None) -> list[Route]:
    """The routes to try, in order; a forced route must exist for this pair."""
    routes = registry.routes_for(framework, fmt)
    if forced is None:
        derived = registry.get_format(fmt).artifact_precisions
        return [r for r in routes if precision in r.precisions or ("fp32" in r.precisions and precision in derived)]
    chosen = [r for r in routes if r.name == forced]
    if not chosen:
        raise UsageError(
            f"no route '{forced}' from {framework} to {fmt}",
            hint=f"routes: {', '.join(r.name for r in routes) or 'none'} (see `edgekit routes`)",
        )
    return chosen


def plan(ctx: ExportContext) -> None:
    """Format, precision, routes and recipe; calibration and eval data loaded and checked (before writing)."""
    req, source = ctx.request, ctx.need_source()
    named = get_recipe(req.recipe) if req.recipe else None
    ctx.precision = req.precision or (named.precision if named else "fp32")
    fmt = req.format or (named.format if named else None) or choose_format(ctx, ctx.precision)
    ctx.format = registry.get_format(fmt)
    registry.check_pair(source.framework, ctx.format.name, ctx.precision)
    ctx.routes = candidate_routes(source.framework, ctx.format.name, ctx.precision, req.route)
    ctx.recipe = recipe_for(ctx.format, ctx.routes[0], ctx.precision, req.recipe)
    if ctx.format.deprecation:
        progress.warn(ctx.format.deprecation)
    _load_data(ctx)
    ctx.options = ExportOptions(
        precision=ctx.precision,
        opset=req.opset,
        portable=req.portable,
        recipe=ctx.recipe,
        calibration=ctx.calibration.batches if ctx.calibration else None,
        workdir=ctx.workdir,
    )
    ctx.batches, ctx.batches_desc = _validation_batches(ctx)
    ctx.dest = Path(req.output) if req.output else default_output(ctx)
    check_writable(ctx.dest)
    check_writable(manifest_path(ctx.dest))


def recipe_for(fmt: Format, route: Route, precision: str, name: str | None) -> Recipe | None:
    """The route's framework's recipe; for a precision the format derives from its fp32 artifact,
    else the recipes of the format's own quantizer."""
    derived = precision not in route.precisions and fmt.artifact_recipe_framework
    if derived and name is None and not names_for(fmt.name, route.recipe_framework):
        return resolve(fmt.name, precision, str(fmt.artifact_recipe_framework), None)
    if derived and name is not None and route.recipe_framework not in get_recipe(name).sources:
        return resolve(fmt.name, precision, str(fmt.artifact_recipe_framework), name)
    return resolve(fmt.name, precision, route.recipe_framework, name)


def _load_data(ctx: ExportContext) -> None:
    from edge_kit.calibration import load_calibration

    req, source = ctx.request, ctx.need_source()
    ctx.calibration = load_calibration(
        req.calibration, source.inputs, ctx.recipe, req.calibration_samples, req.preprocess
    )
    if req.max_accuracy_drop is not None and req.eval_data is None:
        raise UsageError(
            "--max-accuracy-drop needs held-out data to measure the drop on",
            hint="pass --eval data.npz (arrays x and, for accuracy, labels y)",
        )
    if req.eval_data is not None:
        from edge_kit.accuracy import Evaluator, load_eval

        with progress.step("running the source model on the eval set"):
            ctx.evaluator = Evaluator.create(load_eval(req.eval_data, source.inputs), source)


def default_output(ctx: ExportContext) -> Path:
    model = ctx.request.model
    if not isinstance(model, (str, Path)):
        raise UsageError("a live model has no file to name the artifact after", hint="pass output='model.onnx'")
    model = Path(model)
    stem = model.name.split(".")[0] if model.is_file() else model.name
    return model.parent / f"{stem}.{ctx.precision}{ctx.need_format().suffix}"


def _validation_batches(ctx: ExportContext) -> tuple[list[list[Any]], str]:
    """--sample-inputs, else the eval inputs, else the calibration inputs, else random inputs."""
    req, source = ctx.request, ctx.need_source()
    if req.sample_inputs is not None:
        from edge_kit.data import load_inputs

        return load_inputs(req.sample_inputs, source.inputs, req.num_samples), str(req.sample_inputs)
    if ctx.evaluator is not None:
        evalset = ctx.evaluator.evalset
        return evalset.batches[: req.num_samples], f"{evalset.path} (eval inputs)"
    if ctx.calibration is not None and ctx.calibration.description["kind"] != "random":
        return ctx.calibration.batches[: req.num_samples], "calibration inputs"
    low, high = req.input_range
    batches = random_inputs(source.inputs, req.num_samples, seed=0, low=low, high=high)
    return batches, f"random uniform [{low}, {high}) seed 0"


def prepare(ctx: ExportContext) -> None:
    """Framework-specific preparation the recipe asks for (measured once, reused by every route)."""
    ctx.need_source().prepared(ctx.options)


def convert(ctx: ExportContext) -> None:
    """Try the candidate routes in order; the first whose artifact loads and runs wins."""
    ctx.staged.parent.mkdir(parents=True, exist_ok=True)
    fmt, what = ctx.need_format(), ctx.recipe.name if ctx.recipe else ctx.precision
    errors: list[EdgeKitError] = []
    for route in ctx.routes:
        label = f"converting to {fmt.name} ({what}) by {route.name}"
        try:
            with progress.step(label):
                ctx.facts = build(fmt, route, ctx.need_source(), ctx.staged, ctx.options)
            _smoke_test(ctx, route)  # validation loads it afresh: a stateful model starts clean
        except NOT_ROUTE_FAILURES:
            raise
        except EdgeKitError as exc:
            errors.append(exc)
            ctx.failed_routes.append({"route": route.name, "error": exc.one_line()})
            if len(ctx.routes) > 1:
                progress.warn(f"route {route.name} failed: {exc.message}")
            continue
        ctx.route = route
        for warning in ctx.facts.pop("warnings", []):  # what a route wants the user to know
            progress.warn(warning)
        return
    raise _all_failed(ctx, errors)


def _all_failed(ctx: ExportContext, errors: list[EdgeKitError]) -> EdgeKitError:
    if len(errors) == 1:
        return errors[0]
    kind = type(errors[0]) if all(type(e) is type(errors[0]) for e in errors) else ExportError
    tried = "; ".join(f"{f['route']}: {f['error']}" for f in ctx.failed_routes)
    return kind(f"no route converted {ctx.need_source().label} to {ctx.need_format().name}: {tried}")


def build(fmt: Format, route: Route, source: SourceModel, dest: Path, options: ExportOptions) -> dict[str, Any]:
    """One conversion of `source` by `route` into `dest`: the route makes the precision itself,
    or makes fp32 that the format then quantizes (the fp32 model is converted once per export)."""
    if options.precision in route.precisions:
        return _run_converter(f"{fmt.name} conversion", lambda: route.convert(source.prepared(options), dest, options))
    state = options.state
    if state.float_artifact is None:
        fp32 = options.scratch() / f"float{fmt.suffix}"
        float_options = replace(options, precision="fp32")
        state.notes["float_facts"] = _run_converter(
            f"{fmt.name} conversion", lambda: route.convert(source.prepared(options), fp32, float_options)
        )
        state.float_artifact = fp32
    facts = _run_converter(f"{fmt.name} quantization", lambda: fmt.quantize_artifact(fp32_path(state), dest, options))
    return {**state.notes["float_facts"], **facts}


def fp32_path(state: Any) -> Path:
    assert state.float_artifact is not None
    return Path(state.float_artifact)


def quantizable_layers(fmt: Format, route: Route, source: SourceModel, options: ExportOptions) -> list[str]:
    """Layers `route` (or, for a precision the format derives from fp32, the format) can keep in float."""
    if options.precision in route.precisions:
        return route.layers(source, options) if route.layers else []
    if options.state.float_artifact is None:
        build(fmt, route, source, options.scratch() / f"probe{fmt.suffix}", options)
    return fmt.artifact_layers(fp32_path(options.state), options)


def _run_converter(what: str, call: Any) -> dict[str, Any]:
    """A converter call with its output silenced and its failures said in one line."""
    try:
        with quiet_fds():
            return dict(call())
    except EdgeKitError:
        raise
    except Exception as exc:
        if _disk_full(exc):
            raise OutputError(
                "no space left on the device for the converter's scratch files",
                hint="free some space, or point TMPDIR at a larger disk",
            ) from exc
        first = next((line for line in str(exc).strip().splitlines() if line.strip()), type(exc).__name__)
        raise ExportError(
            f"{what} failed: {type(exc).__name__}: {first[:240]}",
            hint="rerun with --debug for the converter's traceback",
        ) from exc


def _smoke_test(ctx: ExportContext, route: Route) -> Any:
    """The staged artifact loaded in its runtime and run once: a route whose artifact its own
    runtime rejects has failed (a conversion error, not a corrupt input model)."""
    fmt, source = ctx.need_format(), ctx.need_source()
    try:
        runner = fmt.load(ctx.staged, source.inputs)
        runner.run(ctx.batches[0])
    except Exception as exc:
        message = exc.message if isinstance(exc, EdgeKitError) else f"{type(exc).__name__}: {exc}"
        first = next((line for line in message.strip().splitlines() if line.strip()), type(exc).__name__)
        raise ExportError(
            f"the {fmt.name} artifact made by {route.name} does not run in {fmt.runtime}: {first[:240]}",
            hint="try another --route or precision; rerun with --debug for details",
        ) from exc
    return runner


def _disk_full(exc: BaseException | None) -> bool:
    """Whether an OSError 'no space left' is somewhere in an exception's chain."""
    for _ in range(20):
        if exc is None:
            return False
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def validate(ctx: ExportContext) -> None:
    fmt, source = ctx.need_format(), ctx.need_source()
    tolerance = ctx.request.tolerance or TOLERANCES[ctx.precision]
    with progress.step(f"validating in {fmt.runtime} on {len(ctx.batches)} inputs"):
        ctx.runner = fmt.load(ctx.staged, source.inputs)
        ctx.comparison = compare(source, ctx.runner, ctx.batches, tolerance)
        ctx.size_checks = _at_sizes(ctx, tolerance)
    failed = [c for c in ctx.size_checks if c["status"] != "ok"]
    if failed:
        reasons = [f"at {_sizes_text(c['dims'])}: {'; '.join(c['reasons'])}" for c in failed]
        ctx.comparison = replace(ctx.comparison, status="mismatch", reasons=(*ctx.comparison.reasons, *reasons))


def _sizes_text(sizes: dict[str, int]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sizes.items())


def _at_sizes(ctx: ExportContext, tolerance: Any) -> list[dict[str, Any]]:
    """The artifact against the source at the min, middle and max of every dynamic dimension."""
    from edge_kit.signature import Signature

    source, runner = ctx.need_source(), ctx.runner
    assert runner is not None
    checks = []
    for sizes in Signature(source.inputs, source.ranges).size_sets():
        specs = [s.at(sizes) for s in source.inputs]
        batches = random_inputs(
            specs,
            min(3, ctx.request.num_samples),
            seed=1,
            low=ctx.request.input_range[0],
            high=ctx.request.input_range[1],
        )
        result = compare(source, runner, batches, tolerance)
        checks.append(
            {
                "dims": sizes,
                "status": result.status,
                "max_abs_diff": result.max_abs_diff,
                "cosine_similarity": result.cosine_similarity,
                "reasons": list(result.reasons),
            }
        )
        progress.log(f"  at {_sizes_text(sizes)}: {result.status}, max abs diff {result.max_abs_diff:.2e}")
    return checks


def publish(ctx: ExportContext) -> Path:
    """Write the artifact and its manifest next to each other, both or neither."""
    assert ctx.dest is not None and ctx.manifest is not None
    path = manifest_path(ctx.dest)
    with atomic_files(ctx.dest, path) as (tmp_artifact, tmp_manifest):
        shutil.copyfile(ctx.staged, tmp_artifact)
        tmp_manifest.write_text(manifest_text(ctx.manifest), encoding="utf-8")
    return path
