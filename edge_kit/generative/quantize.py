"""Weight quantization of decoders on the torch side.

- ExecuTorch: torchao source transforms before torch.export — linear layers 8da4w (int4
  groupwise weights, int8 dynamic activations: what XNNPACK runs as QD8-F32-QB4W) or 8da8w
  (int8 per-channel weights), embeddings weight-only int4/int8 (ExecuTorch's quantized
  embedding kernels). The quantized torch model is also the artifact's reference.
- ONNX references: the source with its weights rounded the way ORT's MatMulNBits quantizer
  rounds them (asymmetric RTN per block along the input dimension), so an int4 ONNX artifact
  can be checked token for token against the model it claims to implement.
"""

from __future__ import annotations

import copy
from typing import Any

import torch

ET_SCHEMES = {
    # precision: (linear config, embedding config)
    "int4": ("8da4w", "4w"),
    "int8": ("8da8w", "8w"),
}


def _granularity(group_size: int) -> Any:
    from torchao.quantization.granularity import PerAxis, PerGroup

    return PerAxis(0) if group_size == 0 else PerGroup(group_size)


def _fits(module: Any, group_size: int) -> bool:
    return group_size == 0 or int(module.weight.shape[-1]) % group_size == 0


def quantize_for_executorch(
    model: Any,
    precision: str,
    *,
    group_size: int = 32,
    embeddings: bool = True,
    algorithm: str = "hqq_scale_only",
    embedding_names: tuple[str, ...] = (),
) -> tuple[Any, dict[str, Any]]:
    """A quantized copy of `model` (torchao configs ExecuTorch lowers) and what was quantized.

    int4: linear 8da4w with `group_size`, embeddings int4 with `group_size`; int8: linear
    8da8w and embeddings int8, per channel. Layers whose width the group does not divide stay fp32.
    `embedding_names`: quantize only the embeddings whose name ends in one of them (Whisper's
    positional tables are indexed directly, not through a lookup the kernels replace).
    """
    from torchao.quantization import Int8DynamicActivationIntxWeightConfig, IntxWeightOnlyConfig, quantize_

    bits = getattr(torch, "int4") if precision == "int4" else torch.int8  # noqa: B009 - absent from torch's stubs
    groups = group_size if precision == "int4" else 0
    qmodel = copy.deepcopy(model)
    _untie(qmodel)
    linears = [n for n, m in qmodel.named_modules() if isinstance(m, torch.nn.Linear)]
    skipped = [n for n, m in qmodel.named_modules() if isinstance(m, torch.nn.Linear) and not _fits(m, groups)]
    with torch.no_grad():
        if embeddings:
            quantize_(
                qmodel,
                IntxWeightOnlyConfig(
                    weight_dtype=bits, granularity=_granularity(groups), intx_choose_qparams_algorithm=algorithm
                ),
                filter_fn=lambda m, fqn: (
                    isinstance(m, torch.nn.Embedding)
                    and _fits(m, groups)
                    and (not embedding_names or fqn.endswith(embedding_names))
                ),
            )
        quantize_(
            qmodel,
            Int8DynamicActivationIntxWeightConfig(
                weight_dtype=bits, weight_granularity=_granularity(groups), intx_choose_qparams_algorithm=algorithm
            ),
            filter_fn=lambda m, _: isinstance(m, torch.nn.Linear) and _fits(m, groups),
        )
    scheme = ET_SCHEMES[precision]
    return qmodel, {
        "linear": scheme[0],
        "embedding": scheme[1] if embeddings else "fp32",
        "group_size": groups or "per-channel",
        "algorithm": algorithm,
        "linear_layers": len(linears) - len(skipped),
        "kept_fp32": skipped,
    }


def _untie(model: Any) -> None:
    """Give the LM head its own copy of a tied embedding: the two are quantized by different
    schemes (8da4w linear, weight-only embedding), so they cannot stay one tensor."""
    head = model.get_output_embeddings()
    if head is not None and head.weight is model.get_input_embeddings().weight:
        head.weight = torch.nn.Parameter(head.weight.detach().clone())


def rtn_blockwise(weight: torch.Tensor, bits: int, block: int) -> torch.Tensor:
    """Asymmetric round-to-nearest along the last dimension in blocks (ORT's MatMulNBits default),
    dequantized back to fp32. The range always includes 0, as ORT's quantizer does."""
    rows, cols = weight.shape
    pad = (-cols) % block
    w = torch.nn.functional.pad(weight, (0, pad)).reshape(rows, -1, block)
    levels = 2**bits - 1
    lo = torch.clamp(w.amin(-1, keepdim=True), max=0.0)
    hi = torch.clamp(w.amax(-1, keepdim=True), min=0.0)
    scale = (hi - lo) / levels
    safe = torch.where(scale == 0, torch.ones_like(scale), scale)
    zero = torch.where(scale == 0, torch.full_like(scale, (levels + 1) // 2), torch.round(-lo / safe)).clamp(0, levels)
    q = torch.where(scale == 0, zero, torch.round(w / safe + zero)).clamp(0, levels)
    return ((q - zero) * scale).reshape(rows, -1)[:, :cols]


def rtn_reference(model: Any, bits: int, block: int, *, embeddings: bool) -> Any:
    """A copy of `model` with every linear weight (and embedding, when quantized) rounded by
    `rtn_blockwise`: the model an int4 MatMulNBits ONNX artifact implements."""
    qmodel = copy.deepcopy(model)
    _untie(qmodel)
    with torch.no_grad():
        for module in qmodel.modules():
            if isinstance(module, torch.nn.Linear) or (embeddings and isinstance(module, torch.nn.Embedding)):
                module.weight.copy_(rtn_blockwise(module.weight, bits, block))
    return qmodel
