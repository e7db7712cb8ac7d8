"""TorchScript → ExportedProgram in the canonical ATen ops the PT2E quantizers match.

`TS2EPConverter` writes every convolution as the generic `aten.convolution` (TorchScript's own
op), where `torch.export` of the eager module writes `aten.conv2d` (conv1d, conv3d,
conv_transpose*). The XNNPACK and litert-torch quantizers annotate only the latter, so a
TorchScript model's convolutions silently stayed float. They are rewritten here before
the graph is exported again with its concrete example shapes.
"""

from __future__ import annotations

from typing import Any


def _canonical(node: Any) -> tuple[Any, tuple[Any, ...]] | None:
    """The conv{1,2,3}d / conv_transpose{1,2,3}d call equivalent to an aten.convolution node."""
    import torch

    if len(node.args) != 9 or node.kwargs:
        return None
    x, weight, bias, stride, padding, dilation, transposed, output_padding, groups = node.args
    dims = len(stride) if isinstance(stride, (list, tuple)) else 0
    if dims not in (1, 2, 3):
        return None
    aten = torch.ops.aten
    if transposed:
        op = (aten.conv_transpose1d, aten.conv_transpose2d, aten.conv_transpose3d)[dims - 1].input
        return op, (x, weight, bias, stride, padding, output_padding, groups, dilation)
    if any(output_padding or ()):
        return None
    op = (aten.conv1d, aten.conv2d, aten.conv3d)[dims - 1].default
    return op, (x, weight, bias, stride, padding, dilation, groups)


def canonical_convolutions(graph_module: Any) -> int:
    """Rewrite aten.convolution nodes as conv{N}d / conv_transpose{N}d in place; how many."""
    import torch

    rewritten = 0
    for node in graph_module.graph.nodes:
        if node.op != "call_function" or node.target is not torch.ops.aten.convolution.default:
            continue
        canonical = _canonical(node)
        if canonical is not None:
            node.target, node.args = canonical
            rewritten += 1
    if rewritten:
        graph_module.recompile()
    return rewritten


def module_from_torchscript(script_module: Any, examples: tuple[Any, ...]) -> Any:
    """A ScriptModule as an fx GraphModule with canonical convolutions, ready for torch.export."""
    from torch._export.converter import TS2EPConverter

    module = TS2EPConverter(script_module, examples).convert().module()
    canonical_convolutions(module)
    return module
