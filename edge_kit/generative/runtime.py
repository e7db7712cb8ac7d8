"""Host decoders for exported generative artifacts, on top of the harness's generation loop.

ONNX runs in onnxruntime (`OrtDecoder`); `.pte` runs in ExecuTorch's Python runtime
(`EtPythonDecoder`, with the quantized kernels registered) or, with `et_lib`, in edgekit's
ctypes shim — the runtime the harness uses in emulated guests and on devices.
"""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import Any

import numpy as np

from edge_kit.errors import ModelLoadError, UnsupportedError
from edge_kit.harness.harness_generate import EtDecoder, GenerationError, LiteRtDecoder, OrtDecoder

_QUANTIZED_KERNELS: list[Any] = []


def _register_quantized_kernels() -> None:
    """Load ExecuTorch's quantized kernels (quantized embeddings) into the Python runtime's
    registry: the pybindings link libexecutorch.so, which the kernel library registers into."""
    if _QUANTIZED_KERNELS:
        return
    import executorch

    lib = Path(next(iter(executorch.__path__))) / "lib" / "libexecutorch_kernels_quantized.so"
    if lib.is_file():
        _QUANTIZED_KERNELS.append(ctypes.CDLL(str(lib), mode=ctypes.RTLD_GLOBAL))


class EtPythonDecoder(EtDecoder):
    """A `.pte` decoder in ExecuTorch's Python runtime (host only: it passes torch tensors)."""

    def __init__(self, path: str | Path) -> None:
        import torch

        from edge_kit.exporters.quiet import quiet_fds

        with quiet_fds():
            from executorch.runtime import Runtime

            runtime = Runtime.get()
            _register_quantized_kernels()
            try:
                method = runtime.load_program(str(path)).load_method("forward")
            except (RuntimeError, ValueError) as exc:
                raise ModelLoadError(f"ExecuTorch cannot load {Path(path).name}: {str(exc)[:200]}") from None
        max_prefill = int(method.metadata.input_tensor_meta(0).sizes()[1])

        def run(arrays: list[np.ndarray]) -> list[np.ndarray]:
            return [o.numpy() for o in method.execute([torch.from_numpy(a) for a in arrays])]

        super().__init__(run, str(path), _version("executorch") + " (python runtime)", max_prefill)


def _version(dist: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"


def open_decoder(path: str | Path, *, threads: int = 1, et_lib: str | Path | None = None) -> Any:
    """The host decoder of an artifact (.onnx, .pte); GenerationError becomes a ModelLoadError."""
    path = Path(path)
    try:
        if path.suffix == ".onnx":
            return OrtDecoder(str(path), threads)
        if path.suffix == ".pte":
            return EtDecoder.from_shim(str(et_lib), str(path), threads) if et_lib else EtPythonDecoder(path)
        if path.suffix == ".tflite":
            return LiteRtDecoder(str(path), threads)
    except GenerationError as exc:
        raise ModelLoadError(str(exc)) from None
    raise UnsupportedError(f"no generation runtime for {path.suffix or path.name}", hint="use .pte, .onnx or .tflite")


def open_speech_decoder(path: str | Path, *, threads: int = 1) -> Any:
    """The host runtime of an encoder-decoder artifact: a `.pte` with `encoder`/`text_decoder`
    methods (ExecuTorch's Python runtime) or an ONNX folder (encoder.onnx + decoder.onnx)."""
    from edge_kit.harness.harness_seq2seq import OrtEncoderDecoder

    path = Path(path)
    if path.is_dir():
        try:
            return OrtEncoderDecoder(str(path), threads)
        except (ValueError, OSError) as exc:
            raise ModelLoadError(f"{path.name} is not an encoder-decoder ONNX folder: {str(exc)[:200]}") from None
    if path.suffix == ".pte":
        return et_python_speech(path)
    raise UnsupportedError(f"no encoder-decoder runtime for {path.name}", hint="use a .pte or an ONNX folder")


def et_python_speech(path: Path) -> Any:
    """A Whisper `.pte` in ExecuTorch's Python runtime (host only: it passes torch tensors)."""
    import torch

    from edge_kit.exporters.quiet import quiet_fds
    from edge_kit.harness.harness_generate import pte_constants
    from edge_kit.harness.harness_seq2seq import EncoderDecoder, pte_encoder_decoder_meta

    meta = pte_encoder_decoder_meta(pte_constants(str(path)))
    if meta is None:
        raise ModelLoadError(f"{path.name} has no get_decoder_start_token_id: not an encoder-decoder program")
    with quiet_fds():
        from executorch.runtime import Runtime

        runtime = Runtime.get()
        _register_quantized_kernels()
        try:
            program = runtime.load_program(str(path))
            encoder, decoder = program.load_method("encoder"), program.load_method("text_decoder")
        except (RuntimeError, ValueError) as exc:
            raise ModelLoadError(f"ExecuTorch cannot load {path.name}: {str(exc)[:200]}") from None

    def encode(features: np.ndarray) -> np.ndarray:
        return encoder.execute([torch.from_numpy(features)])[0].numpy()  # type: ignore[no-any-return]

    def decode(ids: np.ndarray, hidden: np.ndarray, pos: np.ndarray) -> np.ndarray:
        args = [torch.from_numpy(ids), torch.from_numpy(hidden), torch.from_numpy(pos)]
        return decoder.execute(args)[0].numpy()  # type: ignore[no-any-return]

    return EncoderDecoder(encode, decode, meta, "executorch", _version("executorch") + " (python runtime)")
