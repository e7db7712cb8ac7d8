"""Decoder → ExecuTorch `.pte` (XNNPACK) with the KV cache inside the program.

One method, `forward(input_ids [1, T], cache_position [T]) -> logits [1, vocab]`, T dynamic in
1..max_prefill: a prompt of T tokens is the prefill, T = 1 a decode step; the cache lives in
mutable buffers that persist between calls. Constant methods carry the metadata ExecuTorch's
LLM runner reads (`get_max_seq_len`, `get_vocab_size`, `use_kv_cache`, ...).
Quantized programs need ExecuTorch's quantized kernels (embeddings) at run time.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from edge_kit.errors import ExportError
from edge_kit.fsutil import write_bytes_atomic
from edge_kit.generative.results import GenerativeArtifact, KVLayout
from edge_kit.generative.source import CausalLM


def exported_program(model: Any, layout: KVLayout, max_prefill: int) -> Any:
    """torch.export of `BufferCacheLM` with a dynamic token count (strict: the non-strict
    trace of transformers' cache does not survive ExecuTorch's decompositions in torch 2.13)."""
    import torch

    from edge_kit.generative.modules import BufferCacheLM, example_inputs

    wrapper = BufferCacheLM(model, layout).eval()
    tokens = torch.export.Dim("tokens", min=1, max=max_prefill)
    example = example_inputs(layout, min(2, max_prefill))
    with torch.no_grad():
        return torch.export.export(wrapper, example, dynamic_shapes=({1: tokens}, {0: tokens}), strict=True)


def metadata(layout: KVLayout, max_prefill: int) -> dict[str, Any]:
    """Constant methods in the names ExecuTorch's LLM runner looks for."""
    return {
        "get_max_seq_len": layout.cache_len,
        "get_max_context_len": layout.cache_len,
        "get_vocab_size": layout.vocab_size,
        "get_n_layers": layout.num_layers,
        "get_max_prefill": max_prefill,
        "use_kv_cache": True,
        "enable_dynamic_shape": True,
    }


def _is_lm_head(node: Any) -> bool:
    stack = node.meta.get("nn_module_stack") or {}
    return any(str(path).endswith("lm_head") for path, _ in stack.values())


def _partitioner(share_tied_head: bool) -> Any:
    """XNNPACK's partitioner; with `share_tied_head` the LM head's weight stays a program
    constant passed to XNNPACK at run time (not packed into the delegate), so a tied
    embedding and LM head are stored once — XNNPACK then repacks it on every call."""
    from executorch.backends.xnnpack.partition.config import ALL_PARTITIONER_CONFIGS
    from executorch.backends.xnnpack.partition.config.gemm_configs import LinearConfig
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner

    if not share_tied_head:
        return XnnpackPartitioner()

    class SharedHeadLinear(LinearConfig):
        def _get_weight_deps(self, node: Any, ep: Any, precision: Any) -> tuple[bool, list[Any]]:
            if _is_lm_head(node):
                return True, []
            return super()._get_weight_deps(node, ep, precision)

    return XnnpackPartitioner(configs=[SharedHeadLinear if c is LinearConfig else c for c in ALL_PARTITIONER_CONFIGS])


def lower(program: Any, constants: dict[str, Any], share_tied_head: bool = False) -> bytes:
    """XNNPACK lowering; quant fusion turns torchao's embedding dequantize into ExecuTorch's
    quantized embedding kernels."""
    from executorch.exir import ExecutorchBackendConfig, to_edge_transform_and_lower
    from executorch.exir.passes import MemoryPlanningPass

    partitioner = _partitioner(share_tied_head)
    edge = to_edge_transform_and_lower(program, partitioner=[partitioner], constant_methods=constants)
    config = ExecutorchBackendConfig(
        do_quant_fusion_and_const_prop=True, memory_planning_pass=MemoryPlanningPass(alloc_graph_input=False)
    )
    return bytes(edge.to_executorch(config).buffer)


def export_pte(
    lm: CausalLM,
    dest: str | Path,
    *,
    cache_len: int = 128,
    precision: str = "fp32",
    max_prefill: int | None = None,
    group_size: int = 32,
    quantize_embeddings: bool = True,
    share_tied_head: bool = False,
) -> tuple[GenerativeArtifact, Any]:
    """Write `dest` (.pte) and return the artifact record and its reference torch model
    (the source for fp32; the torchao-quantized source for int8/int4).

    A tied embedding/LM head (GPT-2, Gemma) is stored twice by default (the embedding outside
    the XNNPACK delegate, the head packed inside it). `share_tied_head` (fp32 only) stores it
    once and passes it to XNNPACK at run time: ~45% smaller for GPT-2 small's width, decode
    ~2.6x slower (benchmarks: docs/generative.md)."""
    from edge_kit.exporters.quiet import quiet_fds

    layout = lm.layout(cache_len)
    max_prefill = min(max_prefill or cache_len, cache_len)
    start = time.perf_counter()
    quant: dict[str, Any] = {}
    model = lm.model
    if precision != "fp32":
        from edge_kit.generative.quantize import quantize_for_executorch

        model, quant = quantize_for_executorch(
            lm.model, precision, group_size=group_size, embeddings=quantize_embeddings
        )
    share = share_tied_head and lm.tied_embeddings and precision == "fp32"
    try:
        with quiet_fds():
            data = lower(exported_program(model, layout, max_prefill), metadata(layout, max_prefill), share)
    except Exception as exc:  # noqa: BLE001 - torch.export / ExecuTorch raise many types
        raise ExportError(f"ExecuTorch export of the {lm.family.label} decoder failed: {_short(exc)}") from None
    write_bytes_atomic(Path(dest), data)
    notes = []
    if lm.tied_embeddings and share:
        notes.append("tied embedding/LM head stored once: XNNPACK receives the head's weight at run time")
    elif lm.tied_embeddings:
        notes.append(
            "tied embedding/LM head stored twice: the embedding outside the XNNPACK delegate, the head packed "
            "inside it" + (" (quantized by different schemes)" if precision != "fp32" else "")
        )
    artifact = GenerativeArtifact(
        path=Path(dest),
        format="executorch",
        precision=precision,
        family=lm.family.name,
        layout=layout,
        max_prefill=max_prefill,
        size_bytes=len(data),
        export_seconds=time.perf_counter() - start,
        quantization=quant,
        notes=tuple(notes),
    )
    return artifact, model


def _short(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
