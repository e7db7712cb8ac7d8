"""ExecuTorch precisions: fp16 (module in half, XNNPACK) and PT2E int8 with the XNNPACK quantizer.

int8 static: per-channel (or per-tensor) symmetric weights, activations observed on the
calibration batches; int8-dynamic: weights only, activations quantized at run time (conv and linear).
Both are lowered to the XNNPACK delegate. Embedding tables, which XNNPACK cannot run, are
quantized weight-only per row and run as `quantized_decomposed::embedding_byte` (ExecuTorch's
quantized kernels library). Layers kept in float stay unannotated.
"""

from __future__ import annotations

from typing import Any

from edge_kit.exporters.base import ExportOptions
from edge_kit.quant import pt2e


def _quantizer(options: ExportOptions) -> Any:
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
        XNNPACKQuantizer,
        get_symmetric_quantization_config,
    )

    recipe = options.need_recipe()
    config = get_symmetric_quantization_config(
        is_per_channel=recipe.per_channel, is_dynamic=options.precision == "int8-dynamic"
    )
    config = pt2e.with_activation_calibration(config, recipe)
    quantizer = XNNPACKQuantizer().set_global(config)
    quantizer.set_filter_function(pt2e.keep_filter(options.keep_float, recipe.keep_float_ops))
    return pt2e.with_embedding_tables(quantizer, options.keep_float)


def program(source: Any, options: ExportOptions) -> Any:
    """The ExportedProgram to lower for `options.precision` (fp16, int8-dynamic or int8)."""
    import torch

    if options.precision == "fp16":
        return torch.export.export(pt2e.half_module(pt2e.graph_module(source)), source.example_inputs())
    quantized = pt2e.quantize(source, _quantizer(options), options.calibration, keep_all=bool(options.keep_float))
    return torch.export.export(quantized, source.example_inputs())


def layers(source: Any, options: ExportOptions) -> list[str]:
    """Torch module paths of the layers the XNNPACK quantizer can keep in float."""
    if options.precision not in ("int8", "int8-dynamic"):
        return []
    return pt2e.layer_names(pt2e.graph_module(source))
