"""ExecuTorch `.pte`: torch.export → to_edge_transform_and_lower(XNNPACK) → to_executorch.

`--portable` skips the delegate (portable kernels only). Runs in ExecuTorch's runtime.
fp16 and PT2E int8 (XNNPACK quantizer) come from `edge_kit.quant.executorch`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edge_kit.errors import ModelLoadError, UnsupportedError
from edge_kit.exporters.base import PRECISIONS, PT2E_CALIBRATION, ExportOptions, Format, Route
from edge_kit.signature import TensorSpec, guess_layout

if TYPE_CHECKING:
    from edge_kit.quant.share import Int8Share
    from edge_kit.registry import Registry

# c10::ScalarType codes used in ExecuTorch tensor metadata.
SCALAR_TYPES = {
    0: "uint8",
    1: "int8",
    2: "int16",
    3: "int32",
    4: "int64",
    5: "float16",
    6: "float32",
    7: "float64",
    11: "bool",
}


def _meta_spec(name: str, meta: Any) -> TensorSpec:
    shape = tuple(int(d) for d in meta.sizes())
    return TensorSpec(
        name=name,
        shape=shape,
        dtype=SCALAR_TYPES.get(int(meta.dtype()), "unknown"),
        layout=guess_layout(shape, "torch"),
    )


def _quantized_kernels() -> None:
    """Register ExecuTorch's quantized kernels (`embedding_byte`, ...) with the host runtime;
    devices link `kernels_quantized` for the same reason."""
    try:
        import executorch.kernels.quantized  # noqa: F401 - registers the kernels on import
    except ImportError:
        pass


class ExecutorchRunner:
    def __init__(self, path: Path, threads: int = 0) -> None:
        from edge_kit.exporters.quiet import quiet_fds

        with quiet_fds():
            from executorch.runtime import Runtime

            _quantized_kernels()
            runtime = Runtime.get()
        try:
            program = runtime.load_program(str(path))
            self.method = program.load_method("forward")
        except (RuntimeError, ValueError) as exc:
            raise ModelLoadError(
                f"ExecuTorch cannot load {Path(path).name}: {str(exc)[:200]}",
                hint="the file may be damaged or need a newer runtime",
            ) from None
        meta = self.method.metadata
        self.inputs = [_meta_spec(f"input_{i}", meta.input_tensor_meta(i)) for i in range(meta.num_inputs())]
        self.outputs = [_meta_spec(f"output_{i}", meta.output_tensor_meta(i)) for i in range(meta.num_outputs())]

    def run(self, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
        import torch

        tensors = [torch.from_numpy(np.asarray(a, dtype=s.dtype, order="C")) for s, a in zip(self.inputs, arrays)]
        return [o.detach().numpy() if hasattr(o, "detach") else np.asarray(o) for o in self.method.execute(tensors)]


def _dequantized_tables(program: Any) -> bool:
    """Whether an embedding looks up a dequantized (int8-stored) table."""
    return any(
        node.op == "call_function"
        and "embedding" in str(node.target)
        and node.args
        and "dequantize" in str(getattr(node.args[0], "target", ""))
        for node in program.graph.nodes
    )


def lower(program: Any, portable: bool) -> bytes:
    """Lower an ExportedProgram (XNNPACK unless portable) and serialize it to `.pte` bytes.

    Quantized embedding tables are fused into `embedding_byte` (the quant fusion pass), so the
    table stays int8 in the file and in memory instead of being dequantized whole per run."""
    from executorch.exir import ExecutorchBackendConfig, to_edge_transform_and_lower

    partitioners = []
    if not portable:
        from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner

        partitioners = [XnnpackPartitioner()]
    fuse = _dequantized_tables(program)
    edge = to_edge_transform_and_lower(program, partitioner=partitioners)
    return edge.to_executorch(ExecutorchBackendConfig(do_quant_fusion_and_const_prop=fuse)).buffer


def _xnnpack(source: Any, dest: Path, options: ExportOptions) -> dict[str, Any]:
    if options.portable and options.precision.startswith("int8"):
        raise UnsupportedError(
            "portable ExecuTorch programs have no kernels for quantized ops",
            hint="drop --portable (int8 runs in the XNNPACK delegate) or use fp32/fp16",
        )
    if options.precision == "fp32":
        program = source.exported_program
    else:
        from edge_kit.quant import executorch as quant

        program = quant.program(source, options)
    dest.write_bytes(lower(program, options.portable))
    facts: dict[str, Any] = {"delegate": None if options.portable else "xnnpack"}
    shared = _shared_weights(source.exported_program, dest)
    if shared and shared["stored_twice_bytes"]:
        names = " = ".join(shared["tied"][0])
        facts["warnings"] = [
            f"tied weights {names} are stored twice in the .pte (+{shared['stored_twice_bytes']:,} bytes): "
            "ExecuTorch 1.5.1 shares one weight between a portable embedding lookup and an XNNPACK "
            "linear only by repacking it at every call (manifest: artifact.shared_weights)"
        ]
    return {**facts, "shared_weights": shared} if shared else facts


SHARED_WHY = (
    "ExecuTorch 1.5.1 keeps the XNNPACK delegate's packed weights in the file's named data and the portable "
    "kernels' weights (an embedding lookup) in the program's constant segment; one copy is possible only by "
    "keeping the linear's weight a program constant that XNNPACK repacks at every call (measured on GPT-2 "
    "small width: -45% size, 2.6x slower decode; docs/generative.md), so a tied weight is stored once per store"
)


def tied_weights(program: Any) -> list[list[str]]:
    """Groups of state_dict names that share one tensor (tied weights, e.g. embedding and LM head)."""
    groups: dict[tuple[Any, ...], list[str]] = {}
    for name, tensor in program.state_dict.items():
        if hasattr(tensor, "data_ptr") and tensor.numel():
            groups.setdefault((tensor.data_ptr(), tuple(tensor.shape), tensor.dtype), []).append(name)
    return [names for names in groups.values() if len(names) > 1]


def _shared_weights(program: Any, dest: Path) -> dict[str, Any] | None:
    """For a source with tied weights: whether the `.pte` stores them once, and why not."""
    tied = tied_weights(program)
    if not tied:
        return None
    from edge_kit.quant import share_pte

    shapes = {tuple(program.state_dict[names[0]].shape) for names in tied}
    twice = share_pte.stored_twice(dest, shapes)
    record: dict[str, Any] = {"tied": tied, "stored": "twice" if twice else "once", "stored_twice_bytes": twice}
    if twice:
        record["why"] = SHARED_WHY
    return record


def _layers(source: Any, options: ExportOptions) -> list[str]:
    from edge_kit.quant import executorch as quant

    return quant.layers(source, options)


class ExecutorchFormat(Format):
    name = "executorch"
    suffix = ".pte"
    aliases = ("pte", "et")
    runtime = "executorch"
    description = "ExecuTorch program (.pte), XNNPACK delegate by default"
    harness_runtime = "executorch"
    int8_weight_scale_floor = 2**-12
    needs_et_shim = True
    runtime_distributions = ("executorch",)
    quantize_more_hint = "the XNNPACK quantizer leaves other op types in float; try --format tflite or onnx"
    package_runtime = "ExecuTorch"
    package_platforms = ("android", "ios", "linux")
    package_versions = {"executorch": ("executorch", "1.5.1")}
    package_dependencies = {
        "android": ('implementation("org.pytorch:executorch-android:{executorch}")',),
        "spm": (
            '.package(url: "https://github.com/pytorch/executorch", branch: "swiftpm-{executorch}")',
            '.product(name: "executorch", package: "executorch")',
            '.product(name: "backend_xnnpack", package: "executorch")',
            '.product(name: "kernels_optimized", package: "executorch")',
            '.product(name: "kernels_quantized", package: "executorch")',
        ),
        "cocoapods": (),
        "python": (),
    }

    def detect(self, path: Path, head: bytes) -> bool:
        return head[4:6] == b"ET" and head[6:8].isdigit()

    def quantized_share(self, path: Path) -> Int8Share:
        from edge_kit.quant import share_pte

        return share_pte.measure(path)

    def load(self, path: Path, source_inputs: Sequence[TensorSpec], threads: int = 0) -> ExecutorchRunner:
        return ExecutorchRunner(path, threads)


def register(registry: Registry) -> None:
    registry.add_format(ExecutorchFormat())
    registry.add_route(
        Route(
            "torch-export-xnnpack",
            "torch",
            "executorch",
            _xnnpack,
            PRECISIONS,
            layers=_layers,
            description="torch.export → to_edge_transform_and_lower (XNNPACK; PT2E for int8)",
            calibration_methods=PT2E_CALIBRATION,
            versions=("torch", "torchao"),
        )
    )
