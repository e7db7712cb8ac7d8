"""Torch sources prepared for int8 before any route converts them: channels equalized and
int8 weight rounding bias corrected when the recipe asks (`Recipe.prepares_source`).

Both are measured once per export on the calibration data and kept in the export's options;
every re-quantization of an accuracy-budget search reuses them, and the bias correction
skips the layers that search keeps in float.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from edge_kit import progress
from edge_kit.exporters.base import ExportOptions


@dataclass
class Prepared:
    """The equalized program and the bias corrections measured on it."""

    program: Any  # torch.export.ExportedProgram
    corrections: list[Any] = field(default_factory=list)  # edge_kit.quant.bias_correction.Correction


def _measure(program: Any, options: ExportOptions) -> Prepared:
    from edge_kit.quant import bias_correction
    from edge_kit.quant.equalize import equalize

    recipe = options.need_recipe()
    if recipe.equalize_streams or recipe.equalize_activations:
        with progress.step("equalizing channels on the calibration data"):
            program, done = equalize(
                program,
                options.calibration or [],
                streams=recipe.equalize_streams,
                activations=recipe.equalize_activations,
            )
        options.state.notes["equalized"] = done
        progress.log("equalized " + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in done.items()))
    corrections = []
    if recipe.bias_correction:
        with progress.step("measuring int8 weight rounding bias on the calibration data"):
            corrections = bias_correction.measure(program, options.calibration or [], recipe.format)
    return Prepared(program, corrections)


def prepare(source: Any, options: ExportOptions) -> Any:
    """`source` (a TorchSource) as the recipe wants it quantized; itself when nothing is asked."""
    recipe = options.recipe
    if recipe is None or not recipe.prepares_source:
        return source
    from edge_kit.quant import bias_correction, pt2e

    if options.state.prepared is None:
        options.state.prepared = _measure(source.exported_program, options)
    quantized = pt2e.keep_filter(options.keep_float, recipe.keep_float_ops)
    program, corrected = bias_correction.corrected(
        options.state.prepared.program, options.state.prepared.corrections, quantized
    )
    if recipe.bias_correction:
        options.state.notes["bias_corrected"] = {"layers": corrected}
    return source.with_program(program)
