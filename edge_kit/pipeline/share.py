"""The int8 stage: measure, in the artifact itself, how much of an int8 export really is int8.

Runs after the accuracy stage (whose budget search may rebuild the artifact) and before
validation. A low share is a warning naming the biggest float part and what to pass; an
artifact with nothing quantized at all fails (exit 5) instead of being written as int8.
"""

from __future__ import annotations

from edge_kit import progress
from edge_kit.pipeline.context import ExportContext
from edge_kit.quant.share import judge, size_ratio

QUANTIZED = ("int8", "int8-dynamic")


def int8_share(ctx: ExportContext) -> None:
    """The manifest's `quantization.int8_share` for int8 and int8-dynamic exports."""
    if ctx.precision not in QUANTIZED:
        return
    fmt = ctx.need_format()
    with progress.step(f"measuring the int8 share of the {fmt.name} artifact"):
        share = fmt.quantized_share(ctx.staged)
    if share is None:
        ctx.int8_share = {"measured": False, "reason": f"edgekit cannot read the {fmt.name} format's tensor types"}
        return
    fp32 = ctx.options.state.float_artifact
    fp32_size = fp32.stat().st_size if fp32 is not None and fp32.exists() else None
    ratio = size_ratio(share, ctx.staged.stat().st_size, fp32_size)
    kept = bool(ctx.options.keep_float or (ctx.recipe and ctx.recipe.keep_float_ops))  # float on purpose
    for warning in judge(share, ctx.precision, ratio["ratio"], fmt.quantize_more_hint, kept_float=kept):
        progress.warn(warning)
    ctx.int8_share = {**share.to_dict(), "size_vs_fp32": ratio}
