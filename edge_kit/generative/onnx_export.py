"""Decoder → ONNX with the static KV cache as inputs and outputs.

Inputs: `input_ids` int64 [1, T], `cache_position` int64 [T], `past_key_i`/`past_value_i`
fp32 [1, kv_heads, cache_len, head_dim]; outputs: `logits` [1, vocab] (last token) and
`present_key_i`/`present_value_i` (the cache with the T new positions written). T is dynamic:
one graph serves the prefill (T = prompt length) and the decode step (T = 1). The layout is
recorded in the model's metadata (`edgekit.generative`).

Quantization: int4 = ORT's MatMulNBits (asymmetric RTN, blocks of `group_size` along K),
embeddings as GatherBlockQuantized; int8 = ORT dynamic quantization (MatMulInteger with
per-channel int8 weights, int8 Gather for the embedding).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from edge_kit.errors import ExportError
from edge_kit.fsutil import atomic_path
from edge_kit.generative.results import GenerativeArtifact, KVLayout
from edge_kit.generative.source import CausalLM

METADATA_KEY = "edgekit.generative"


def _export_fp32(lm: CausalLM, layout: KVLayout, max_prefill: int) -> Any:
    """The fp32 ModelProto from torch.onnx's dynamo exporter."""
    import torch

    from edge_kit.generative.modules import IOCacheLM, example_inputs

    wrapper = IOCacheLM(lm.model, layout).eval()
    tokens = torch.export.Dim("tokens", min=1, max=max_prefill)
    ids, positions = example_inputs(layout, min(2, max_prefill))
    shapes = {"input_ids": {1: tokens}, "cache_position": {0: tokens}, "past": [None] * (2 * layout.num_layers)}
    with torch.no_grad():
        program = torch.onnx.export(
            wrapper,
            (ids, positions, wrapper.empty_cache()),
            dynamic_shapes=shapes,
            input_names=["input_ids", "cache_position", *layout.cache_names("past")],
            output_names=["logits", *layout.cache_names("present")],
            dynamo=True,
            optimize=True,
            verbose=False,
        )
    if program is None:
        raise ExportError("torch.onnx.export returned no program")
    model = program.model_proto
    _name_token_axis(model)
    _strip_debug_info(model)
    return model


def _strip_debug_info(model: Any) -> None:
    """Drop the exporter's per-node metadata (source stack traces, module names: ~1.5 kB a node,
    most of a small model's file)."""
    for node in model.graph.node:
        del node.metadata_props[:]
        node.doc_string = ""
    for value in [*model.graph.value_info, *model.graph.input, *model.graph.output]:
        del value.metadata_props[:]
        value.doc_string = ""


def _name_token_axis(model: Any) -> None:
    """Call the dynamic token axis `tokens` (the exporter names it after a symbol, e.g. s58)."""
    symbols = {
        d.dim_param for v in model.graph.input[:2] for d in v.type.tensor_type.shape.dim if d.HasField("dim_param")
    }
    for value in [*model.graph.input, *model.graph.output, *model.graph.value_info]:
        for dim in value.type.tensor_type.shape.dim:
            if dim.HasField("dim_param") and dim.dim_param in symbols:
                dim.dim_param = "tokens"


def _quantize_int4(model: Any, group_size: int, embeddings: bool, accuracy_level: int) -> Any:
    import logging

    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    logging.getLogger("onnxruntime.quantization.matmul_nbits_quantizer").setLevel(logging.WARNING)
    ops = ("MatMul", "Gather") if embeddings else ("MatMul",)
    quantizer = MatMulNBitsQuantizer(
        model,
        bits=4,
        block_size=group_size,
        is_symmetric=False,
        accuracy_level=accuracy_level or None,
        op_types_to_quantize=ops,
        quant_axes=(("MatMul", 0), ("Gather", 1)),
    )
    quantizer.process()
    return quantizer.model.model


def _quantize_int8(src: Path, dest: Path, embeddings: bool) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    ops = ["MatMul", "Gather"] if embeddings else ["MatMul"]
    quantize_dynamic(
        str(src),
        str(dest),
        weight_type=QuantType.QInt8,
        per_channel=True,
        op_types_to_quantize=ops,
        extra_options={"MatMulConstBOnly": True},
    )


def untie_lm_head(model: Any) -> list[str]:
    """Give MatMul weights that are computed from an initializer (GPT-2's tied LM head:
    Transpose(embedding)) their own constant, so weight quantizers see a constant matrix."""
    import numpy as np
    from onnx import numpy_helper

    inits = {t.name: t for t in model.graph.initializer}
    producers = {o: n for n in model.graph.node for o in n.output}
    done = []
    for node in model.graph.node:
        if node.op_type != "MatMul" or node.input[1] in inits:
            continue
        prod = producers.get(node.input[1])
        if prod is None or prod.op_type != "Transpose" or prod.input[0] not in inits:
            continue
        perm = next((list(a.ints) for a in prod.attribute if a.name == "perm"), None)
        weight = numpy_helper.to_array(inits[prod.input[0]])
        folded = np.ascontiguousarray(weight.transpose(perm) if perm else weight.T)
        name = f"{prod.input[0]}_transposed_for_{node.name or 'matmul'}"
        model.graph.initializer.append(numpy_helper.from_array(folded, name))
        node.input[1] = name
        done.append(prod.input[0])
    return done


def _unpack4(packed: Any, cols: int) -> Any:
    """uint8 bytes holding two 4-bit values (low nibble first) -> [rows, cols] uint8."""
    import numpy as np

    flat = packed.reshape(packed.shape[0], -1)
    both = np.stack([flat & 0x0F, flat >> 4], axis=-1).reshape(flat.shape[0], -1)
    return both[:, :cols]


def share_tied_int4(model: Any, untied: list[str]) -> list[str]:
    """Point the int4 embedding (GatherBlockQuantized) of a tied weight at the LM head's
    MatMulNBits data when both hold the same 4-bit values, so the weight is stored once.

    MatMulNBits keeps B as [vocab, k_blocks, blob] bytes; GatherBlockQuantized reads the
    same bytes as [vocab, hidden/2] uint8 with bits=4 through a Reshape (folded at load)."""
    import numpy as np
    from onnx import helper, numpy_helper

    inits = {t.name: t for t in model.graph.initializer}
    shared = []
    for weight in untied:
        gbq = next(
            (n for n in model.graph.node if n.op_type == "GatherBlockQuantized" and n.input[0] == f"{weight}_Q4"), None
        )
        head = next(
            (
                n
                for n in model.graph.node
                if n.op_type == "MatMulNBits" and n.input[1].startswith(f"{weight}_transposed_for_")
            ),
            None,
        )
        if gbq is None or head is None or len(gbq.input) < 4 or len(head.input) < 4:
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in head.attribute}
        vocab, hidden = int(attrs["N"]), int(attrs["K"])
        arr = {name: numpy_helper.to_array(inits[name]) for name in (*gbq.input[:1], *gbq.input[2:4], *head.input[1:4])}
        blocks = arr[head.input[2]].reshape(vocab, -1).shape[1]
        levels = _unpack4(arr[head.input[1]], hidden).astype(np.int16)
        differ = levels != arr[gbq.input[0]].reshape(vocab, hidden).astype(np.int16)
        same = (
            np.array_equal(arr[head.input[2]].reshape(vocab, -1), arr[gbq.input[2]].reshape(vocab, -1))
            and np.array_equal(_unpack4(arr[head.input[3]], blocks), arr[gbq.input[3]].reshape(vocab, -1))
            # the two quantizers may round a value exactly half-way apart differently: one level, rarely
            and int(differ.sum()) <= max(16, levels.size // 100_000)
            and int(np.abs(levels - arr[gbq.input[0]].reshape(vocab, hidden).astype(np.int16)).max()) <= 1
        )
        if not same:
            continue
        shape = numpy_helper.from_array(np.array([vocab, hidden // 2], np.int64), f"{weight}_shared_shape")
        model.graph.initializer.append(shape)
        data = f"{weight}_shared_4bit"
        model.graph.node.insert(0, helper.make_node("Reshape", [head.input[1], shape.name], [data], name=data))
        gbq.input[0], gbq.input[2], gbq.input[3] = data, head.input[2], head.input[3]
        gbq.attribute.append(helper.make_attribute("bits", 4))
        count = int(differ.sum())
        shared.append(
            weight + (f" ({count} of {levels.size} values the two quantizers rounded a level apart)" if count else "")
        )
    return shared


def prune(model: Any) -> int:
    """Remove nodes whose outputs nothing reads and initializers no node reads (e.g. the fp32
    weights left behind by untie_lm_head and the quantizers); the number of initializers dropped."""
    graph = model.graph
    outputs = {o.name for o in graph.output}
    while True:
        used = {i for n in graph.node for i in n.input} | outputs
        dead = [n for n in graph.node if n.output and not any(o in used for o in n.output)]
        if not dead:
            break
        for node in dead:
            graph.node.remove(node)
    used = {i for n in graph.node for i in n.input} | outputs
    unused = [t for t in graph.initializer if t.name not in used]
    for tensor in unused:
        graph.initializer.remove(tensor)
    return len(unused)


def _set_metadata(model: Any, layout: KVLayout, max_prefill: int, precision: str) -> None:
    doc = {**layout.to_dict(), "max_prefill": max_prefill, "precision": precision, "logits": "last"}
    entry = next((p for p in model.metadata_props if p.key == METADATA_KEY), None) or model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(doc)


def export_onnx(
    lm: CausalLM,
    dest: str | Path,
    *,
    cache_len: int = 128,
    precision: str = "fp32",
    max_prefill: int | None = None,
    group_size: int = 32,
    quantize_embeddings: bool = True,
    accuracy_level: int = 4,
) -> tuple[GenerativeArtifact, Any]:
    """Write `dest` (.onnx) and return the artifact record and its reference torch model
    (fp32 source; for int4 the source with MatMulNBits' rounding applied to its weights).

    `accuracy_level` is MatMulNBits' compute type: 4 = int8 activations quantized on the fly
    (ORT's fast CPU path, as XNNPACK's 8da4w; ~12x faster decode than 0 here), 0 = fp32."""
    import onnx

    from edge_kit.exporters.quiet import quiet_fds

    layout = lm.layout(cache_len)
    max_prefill = min(max_prefill or cache_len, cache_len)
    dest = Path(dest)
    start = time.perf_counter()
    try:
        with quiet_fds():
            model = _export_fp32(lm, layout, max_prefill)
    except Exception as exc:  # noqa: BLE001 - torch.export / onnxscript raise many types
        raise ExportError(f"ONNX export of the {lm.family.label} decoder failed: {_short(exc)}") from None
    untied = untie_lm_head(model) if precision != "fp32" else []
    reference, quant, shared = lm.model, {}, []
    with atomic_path(dest) as tmp:
        if precision == "int4":
            with quiet_fds():
                model = _quantize_int4(model, group_size, quantize_embeddings, accuracy_level)
            shared = share_tied_int4(model, untied) if quantize_embeddings else []
            from edge_kit.generative.quantize import rtn_reference

            reference = rtn_reference(lm.model, 4, group_size, embeddings=quantize_embeddings)
            quant = {
                "linear": "MatMulNBits 4-bit asymmetric RTN",
                "group_size": group_size,
                "accuracy_level": accuracy_level,
            }
        prune(model)
        _set_metadata(model, layout, max_prefill, precision)
        onnx.save(model, str(tmp))
        if precision == "int8":
            with quiet_fds():
                _quantize_int8(tmp, tmp, quantize_embeddings)
            quant = {"linear": "dynamic int8 (MatMulInteger, per-channel weights)"}
        quant["embedding"] = (
            ("int4 GatherBlockQuantized" if precision == "int4" else "int8 Gather")
            if (quantize_embeddings and precision != "fp32")
            else "fp32"
        )
        size = tmp.stat().st_size
    notes = [f"tied LM head given its own constant before quantization ({', '.join(untied)})"] if untied else []
    if shared:
        notes.append(
            f"tied weight stored once at 4 bits: the embedding reads the LM head's MatMulNBits data ({', '.join(shared)})"
        )
    artifact = GenerativeArtifact(
        path=dest,
        format="onnx",
        precision=precision,
        family=lm.family.name,
        layout=layout,
        max_prefill=max_prefill,
        size_bytes=size,
        export_seconds=time.perf_counter() - start,
        quantization=quant if precision != "fp32" else {},
        notes=tuple(notes),
    )
    return artifact, reference


def _short(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
