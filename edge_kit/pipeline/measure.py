"""The measure stage: accuracy in the artifact's runtime and, with a budget, the search that
keeps the most sensitive layers in float (rebuilding the artifact by the route that made it)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from edge_kit import budget, progress
from edge_kit.pipeline.context import ExportContext
from edge_kit.pipeline.stages import build, quantizable_layers


def measure(ctx: ExportContext) -> None:
    """The manifest's accuracy section, when held-out data was given."""
    evaluator, fmt, source, req = ctx.evaluator, ctx.need_format(), ctx.need_source(), ctx.request
    if evaluator is None:
        return
    samples = evaluator.evalset.samples
    with progress.step(f"measuring {evaluator.metric} in {fmt.runtime} on {samples} samples"):
        initial = evaluator.measure(fmt.load(ctx.staged, source.inputs))
    ctx.accuracy = initial.to_dict()
    limit = req.max_accuracy_drop
    if limit is None:
        return
    if initial.resolution > limit:
        progress.warn(
            f"{initial.samples} eval samples: one sample moves {initial.metric} by "
            f"{initial.resolution:.2f} points, more than the {limit}-point budget, "
            "so the budget allows no changed prediction at all; use a larger eval set"
        )
    assert ctx.route is not None
    layers = quantizable_layers(fmt, ctx.route, source, ctx.options) if initial.drop > limit else []
    if initial.drop > limit:
        progress.log(
            f"drop {initial.drop:.2f} points > budget {limit}: searching {len(layers)} layers to keep in float"
        )

    def rebuild(keep: tuple[str, ...]) -> Any:
        assert ctx.route is not None
        build(fmt, ctx.route, source, ctx.staged, replace(ctx.options, keep_float=keep))
        acc = evaluator.measure(fmt.load(ctx.staged, source.inputs))
        progress.log(
            f"  {len(keep)} layer(s) in float: {acc.metric} {acc.artifact:.2f}%, drop {acc.drop:.2f}, "
            f"output error {acc.output_error:.3g}"
        )
        return acc

    search = budget.fit(rebuild, layers, initial, limit)
    assert search.final is not None  # fit always records the final measurement
    ctx.accuracy = {**search.final.to_dict(), "budget": search.to_dict()}
    ctx.options.keep_float = search.keep_float
