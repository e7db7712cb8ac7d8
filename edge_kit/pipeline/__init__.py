"""`edgekit export` as a library call, in explicit stages passing one `ExportContext`:

    load → plan → prepare → convert (route by route, quantizing) → measure → int8 share → validate → publish

The artifact and its manifest are written atomically; a failed conversion leaves nothing
behind. An artifact outside tolerance is kept and recorded (status "mismatch"), as is one
whose accuracy drop exceeds `max_accuracy_drop` after the budget search (status
"over_budget"); the caller decides whether that is an error. The measure stage runs before
the final validation because its budget search may rebuild the artifact.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edge_kit import budget, progress, registry
from edge_kit.fsutil import check_writable, sha256_file
from edge_kit.manifest import new_manifest
from edge_kit.pipeline import stages
from edge_kit.pipeline.context import ExportContext, ExportRequest, ExportResult
from edge_kit.pipeline.measure import measure
from edge_kit.pipeline.share import int8_share
from edge_kit.targets import get_target
from edge_kit.validate import STATUS_OK

__all__ = ["STAGES", "ExportContext", "ExportRequest", "ExportResult", "export"]

SUGGEST_ABOVE = 1.0  # accuracy drop (points) above which an export names what could reduce it

STAGES: tuple[tuple[str, Callable[[ExportContext], Any]], ...] = (
    ("load", stages.load),
    ("plan", stages.plan),
    ("prepare", stages.prepare),
    ("export", stages.convert),
    ("accuracy", measure),
    ("int8", int8_share),
    ("validate", stages.validate),
)


def export(req: ExportRequest) -> ExportResult:
    """Export (quantize), validate, measure and write the artifact plus its manifest."""
    target = get_target(req.target)
    if req.format:
        registry.get_format(req.format)  # an unknown format fails before the model loads
    if req.output is not None:
        check_writable(Path(req.output))
    with tempfile.TemporaryDirectory(prefix="edgekit-export-") as work:
        # Converters write into a private scratch folder (a converter that dies on a full disk,
        # like LLVM's exit(1), then leaves nothing in the output folder); the finished
        # artifact and its manifest are published together at the very end.
        ctx = ExportContext(request=req, target=target, workdir=Path(work))
        for name, stage in STAGES:
            start = time.perf_counter()
            stage(ctx)
            ctx.timings[f"{name}_s"] = time.perf_counter() - start
        ctx.manifest = manifest(ctx)
        path = stages.publish(ctx)
    _report(ctx)
    _suggest(ctx)
    assert ctx.dest is not None
    return ExportResult(artifact=ctx.dest, manifest_path=path, manifest=ctx.manifest)


def _quantization(ctx: ExportContext) -> dict[str, Any] | None:
    if ctx.recipe is None:
        return None
    section = {
        "recipe": ctx.recipe.name,
        "tool": ctx.recipe.tool,
        "settings": ctx.recipe.settings(),
        "calibration": ctx.calibration.description if ctx.calibration else None,
        "keep_float": list(ctx.options.keep_float),
    }
    notes = ctx.options.state.notes
    section.update({key: notes[key] for key in ("equalized", "bias_corrected", "op_types") if key in notes})
    return {**section, **({"int8_share": ctx.int8_share} if ctx.int8_share else {})}


def _status(ctx: ExportContext) -> str:
    if ctx.accuracy and ctx.accuracy.get("budget", {}).get("status") == budget.OVER:
        return budget.OVER
    assert ctx.comparison is not None
    return ctx.comparison.status


def _route_section(ctx: ExportContext) -> dict[str, Any]:
    assert ctx.route is not None
    section: dict[str, Any] = {"route": ctx.route.name}
    if ctx.failed_routes:
        section["routes_failed"] = list(ctx.failed_routes)
    return section


def _versions(ctx: ExportContext) -> dict[str, str | None]:
    from edge_kit.exporters.base import package_version

    assert ctx.route is not None
    names = (*ctx.route.versions, *ctx.need_format().runtime_distributions)
    return {name: package_version(name) for name in dict.fromkeys(names)}


def manifest(ctx: ExportContext) -> dict[str, Any]:
    fmt, source, comparison, runner = ctx.need_format(), ctx.need_source(), ctx.comparison, ctx.runner
    assert comparison is not None and runner is not None and ctx.dest is not None
    outputs = runner.outputs or source.output_specs()
    quantization = _quantization(ctx)
    extra = {k: v for k, v in (("quantization", quantization), ("accuracy", ctx.accuracy)) if v}
    return new_manifest(
        status=_status(ctx),
        artifact={
            "file": ctx.dest.name,
            "format": fmt.name,
            "runtime": fmt.runtime,
            "precision": ctx.precision,
            "sha256": sha256_file(ctx.staged),
            "size_bytes": ctx.staged.stat().st_size,
            **_route_section(ctx),
            **{k: v for k, v in ctx.facts.items() if k != "bridge" or v},
        },
        source={**source.describe(), "sha256": source.sha256()},
        target=ctx.target.summary(),
        inputs=[s.to_dict() for s in runner.inputs],
        source_inputs=[s.to_dict() for s in source.inputs],
        outputs=[s.to_dict() for s in outputs],
        validation={
            **comparison.to_dict(),
            "inputs": ctx.batches_desc,
            **({"sizes": ctx.size_checks} if ctx.size_checks else {}),
        },
        **({"dynamic_dims": {k: r.to_dict() for k, r in source.ranges.items()}} if source.ranges else {}),
        **extra,
        versions=_versions(ctx),
        timings_s={k: round(v, 3) for k, v in ctx.timings.items()},
    )


def _report(ctx: ExportContext) -> None:
    comparison, fmt = ctx.comparison, ctx.need_format()
    assert comparison is not None
    if comparison.status == STATUS_OK:
        progress.log(
            f"wrote {ctx.dest} ({fmt.name}); validation ok: max abs diff "
            f"{comparison.max_abs_diff:.2e}, cosine {comparison.cosine_similarity:.6f}"
        )
    else:
        progress.warn(f"wrote {ctx.dest} but it is outside tolerance: {'; '.join(comparison.reasons)}")
    if ctx.accuracy:
        from edge_kit.accuracy import summary

        progress.log(summary(ctx.accuracy, fmt.name))


def _suggest(ctx: ExportContext) -> None:
    """After a static int8 export that lost more than a point with no budget set, name what
    could win it back."""
    from edge_kit.recipes import equalized_alternatives

    measured, recipe = ctx.accuracy, ctx.recipe
    if not measured or recipe is None or recipe.precision != "int8" or "budget" in measured:
        return
    if measured["drop"] <= SUGGEST_ABOVE:
        return
    assert ctx.route is not None
    others = equalized_alternatives(recipe, ctx.route.recipe_framework)
    tried = f"--recipe {others[0]} (equalization and bias correction first, docs/quantization.md) or " if others else ""
    progress.log(
        f"hint: int8 cost {measured['drop']:.2f} points; try {tried}--max-accuracy-drop "
        f"{SUGGEST_ABOVE} (keeps the most sensitive layers in float)"
    )
