"""Generation loop of edgekit's harness: prefill + greedy decode through a static-KV-cache decoder.

Standalone like the harness (stdlib + numpy + the runtime; no torch, no edge_kit imports), so
the same loop runs on the host, in an emulated arm64 guest and on a device. A decoder is one
`step(tokens, start) -> logits of the last token`: `tokens` (int64 [T]) sit at positions
start..start+T-1 of the cache; T = prompt length is the prefill, T = 1 a decode step.

    decoder = open_decoder("model.onnx", threads=1)          # or .pte with et_lib=..., .tflite
    run = greedy(decoder, prompt=[1, 2, 3], steps=8)         # tokens + per-step timings
    report = profile_generation(decoder, prompt, new_tokens=32, runs=3)
"""

from __future__ import annotations

import json
import os
import struct
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

METADATA_KEY = "edgekit.generative"


class GenerationError(ValueError):
    """The request does not fit the decoder (cache or prefill length), or the artifact is not a decoder."""


class DecoderLoadError(RuntimeError):
    """The runtime could not load the artifact."""


def _check_span(decoder: Any, count: int, start: int) -> None:
    if count < 1:
        raise GenerationError("no tokens to run")
    if count > decoder.max_prefill:
        raise GenerationError(f"{count} tokens in one call; the decoder takes at most {decoder.max_prefill}")
    if start + count > decoder.cache_len:
        raise GenerationError(f"positions up to {start + count} do not fit the cache of {decoder.cache_len}")


class OrtDecoder:
    """An ONNX decoder with past/present cache I/O, run through IOBinding: the two cache
    copies swap roles each step, so the cache is never copied through numpy."""

    name = "onnxruntime"

    def __init__(self, path: str, threads: int = 1) -> None:
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads, so.inter_op_num_threads, so.log_severity_level = threads, 1, 3
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.ort, self.version = ort, ort.__version__
        self.session = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        meta = json.loads(self.session.get_modelmeta().custom_metadata_map.get(METADATA_KEY, "{}"))
        inputs = {i.name: i for i in self.session.get_inputs()}
        self.past = [n for n in inputs if n.startswith("past_")]
        if "input_ids" not in inputs or not self.past:
            raise GenerationError(f"{os.path.basename(path)} has no input_ids/past_* inputs: not a KV-cache decoder")
        self.present = ["present_" + n[len("past_") :] for n in self.past]
        shape = [int(d) for d in inputs[self.past[0]].shape]
        self.cache_len = shape[2]
        self.vocab = int(meta.get("vocab_size") or self.session.get_outputs()[0].shape[-1])
        self.max_prefill = int(meta.get("max_prefill", self.cache_len))
        self.cache_shape = shape
        self._bufs = [[np.zeros(shape, np.float32) for _ in self.past] for _ in range(2)]
        self._vals = [[ort.OrtValue.ortvalue_from_numpy(a) for a in bufs] for bufs in self._bufs]
        self._cur = 0

    def reset(self) -> None:
        for bufs in self._bufs:
            for a in bufs:
                a.fill(0.0)
        self._cur = 0

    def step(self, tokens: Sequence[int] | np.ndarray, start: int) -> np.ndarray:
        ids = np.asarray(tokens, dtype=np.int64).reshape(1, -1)
        _check_span(self, ids.shape[1], start)
        binding = self.session.io_binding()
        binding.bind_cpu_input("input_ids", ids)
        binding.bind_cpu_input("cache_position", np.arange(start, start + ids.shape[1], dtype=np.int64))
        src, dst = self._vals[self._cur], self._vals[1 - self._cur]
        for name, value in zip(self.past, src):
            binding.bind_ortvalue_input(name, value)
        binding.bind_output("logits")  # first: copy_outputs_to_cpu() follows the binding order
        for name, value in zip(self.present, dst):
            binding.bind_ortvalue_output(name, value)
        self.session.run_with_iobinding(binding)
        self._cur = 1 - self._cur
        return binding.copy_outputs_to_cpu()[0].reshape(-1)

    def cache_bytes(self) -> int:
        return 2 * sum(a.nbytes for a in self._bufs[0])


class EtDecoder:
    """An ExecuTorch program whose `forward(input_ids, cache_position)` keeps the cache in
    mutable buffers, run through `run(arrays) -> arrays` (the ctypes shim's dynamic run, or
    any callable with that contract)."""

    name = "executorch"

    def __init__(
        self, run: Callable[[list[np.ndarray]], list[np.ndarray]], path: str, version: str, max_prefill: int
    ) -> None:
        self.run, self.version = run, version
        consts = pte_constants(path)
        if "get_max_seq_len" not in consts:
            raise GenerationError(f"{os.path.basename(path)} has no get_max_seq_len: not a KV-cache decoder")
        self.cache_len = int(consts["get_max_seq_len"])
        self.vocab = int(consts.get("get_vocab_size", 0))
        self.max_prefill = int(consts.get("get_max_prefill", max_prefill))

    @classmethod
    def from_shim(cls, lib: str, path: str, threads: int = 1) -> EtDecoder:
        try:
            from . import et_runtime  # imported as edge_kit.harness.harness_generate
        except ImportError:
            import et_runtime  # type: ignore[no-redef]  # run next to the harness script

        model = et_runtime.EtModel(lib, path, num_threads=threads)
        version = et_runtime.load_library(lib).et_version().decode()
        decoder = cls(model.run_dynamic, path, f"{version} (edgekit shim)", model.input_specs()[0]["shape"][1])
        decoder.model = model  # type: ignore[attr-defined]  # keeps the handle alive
        return decoder

    def reset(self) -> None:
        """Nothing to clear: positions restart at 0 and later positions are masked until written."""

    def step(self, tokens: Sequence[int] | np.ndarray, start: int) -> np.ndarray:
        ids = np.asarray(tokens, dtype=np.int64).reshape(1, -1)
        _check_span(self, ids.shape[1], start)
        out = self.run([ids, np.arange(start, start + ids.shape[1], dtype=np.int64)])
        return np.asarray(out[0]).reshape(-1)


class LiteRtDecoder:
    """A TFLite decoder from litert-torch's generative exporter: `prefill_{P}` (no logits) and
    `decode` signatures, the cache as inputs/outputs and an additive causal mask input. A prompt
    runs as prefill chunks of P (padded; the pad positions are overwritten before they are
    attended to) for all but its last token, which goes through `decode` for the logits."""

    name = "litert"

    def __init__(self, path: str, threads: int = 1) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.interp = Interpreter(model_path=path, num_threads=threads)
        self.version = _dist_version("ai-edge-litert")
        sigs = self.interp.get_signature_list()
        if "decode" not in sigs:
            raise GenerationError(f"{os.path.basename(path)} has no decode signature: not a KV-cache decoder")
        self.decode = self.interp.get_signature_runner("decode")
        prefills = sorted(int(n.split("_")[1]) for n in sigs if n.startswith("prefill_") and n.split("_")[1].isdigit())
        self.prefill = {n: self.interp.get_signature_runner(f"prefill_{n}") for n in prefills}
        inputs = self.decode.get_input_details()
        self.kv_names = sorted(n for n in inputs if n.startswith("kv_cache_"))
        self.kv_shapes = {n: [int(d) for d in inputs[n]["shape"]] for n in self.kv_names}
        self.cache_len = int(inputs["mask"]["shape"][-1])
        self.vocab = int(self.decode.get_output_details()["logits"]["shape"][-1])
        self.max_prefill = self.cache_len
        self.kv: dict[str, np.ndarray] = {}
        self.reset()

    def reset(self) -> None:
        self.kv = {n: np.zeros(shape, np.float32) for n, shape in self.kv_shapes.items()}

    def _mask(self, positions: np.ndarray) -> np.ndarray:
        allowed = np.arange(self.cache_len)[None, :] <= positions[:, None]
        return np.where(allowed, 0.0, -np.inf).astype(np.float32)[None, None]

    def _call(self, runner: Any, tokens: np.ndarray, positions: np.ndarray) -> dict[str, np.ndarray]:
        out = runner(
            tokens=tokens[None].astype(np.int32),
            input_pos=positions.astype(np.int32),
            mask=self._mask(positions),
            **self.kv,
        )
        self.kv = {n: out[n] for n in self.kv_names}
        return out

    def step(self, tokens: Sequence[int] | np.ndarray, start: int) -> np.ndarray:
        ids = np.asarray(tokens, dtype=np.int64).reshape(-1)
        _check_span(self, len(ids), start)
        pos, rest = start, ids[:-1]
        chunk = max(self.prefill, default=0)
        while len(rest):
            if chunk and len(rest) > 1 and pos + chunk <= self.cache_len:
                part = rest[:chunk]
                padded = np.zeros(chunk, np.int64)
                padded[: len(part)] = part
                self._call(self.prefill[chunk], padded, np.arange(pos, pos + chunk))
            else:  # one token through decode (no prefill signature, or the padding would overrun the cache)
                part = rest[:1]
                self._call(self.decode, part, np.arange(pos, pos + 1))
            pos, rest = pos + len(part), rest[len(part) :]
        return self._call(self.decode, ids[-1:], np.array([pos]))["logits"].reshape(-1)

    def cache_bytes(self) -> int:
        return sum(a.nbytes for a in self.kv.values())


def _dist_version(dist: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"


def _seq2seq() -> Any:
    try:
        from . import harness_seq2seq  # imported as edge_kit.harness.harness_generate
    except ImportError:
        import harness_seq2seq  # type: ignore[no-redef]  # run next to the harness script
    return harness_seq2seq


def open_decoder(path: str, threads: int = 1, et_lib: str | None = None) -> Any:
    """The decoder for an artifact, by extension: .onnx (onnxruntime), .pte (the ExecuTorch shim; a
    Whisper program's encoder and text decoder behind the same `step`), .tflite."""
    ext = os.path.splitext(path)[1].lower()
    if ext == ".onnx":
        return OrtDecoder(path, threads)
    if ext == ".tflite":
        return LiteRtDecoder(path, threads)
    if ext == ".pte":
        if not et_lib:
            raise GenerationError("a .pte decoder needs the ExecuTorch runtime library (--et-lib)")
        consts = pte_constants(path)
        if "get_decoder_start_token_id" in consts:  # Whisper: `encoder` + `text_decoder` methods
            seq2seq = _seq2seq()
            return seq2seq.EtEncoderDecoder(et_lib, path, seq2seq.pte_encoder_decoder_meta(consts), threads)
        return EtDecoder.from_shim(et_lib, path, threads)
    raise GenerationError(f"no generation loop for {ext or 'this'} files (.onnx, .pte, .tflite)")


# ----------------------------------------------------------------------------- loops


def argmax(logits: np.ndarray) -> int:
    return int(np.argmax(logits))


def greedy(
    decoder: Any, prompt: Sequence[int], steps: int, mark: Callable[[int], None] | None = None, phase: str = ""
) -> dict[str, Any]:
    """Prefill `prompt`, then `steps` greedy tokens (the first comes from the prefill's logits).

    With `mark`, the prefill (phase 'prefill') or each decode step (phase 'decode') is marked
    for the instruction-counting plugin (1 = starts, 2 = ends)."""

    def run(tokens: Sequence[int], pos: int, counted: bool) -> np.ndarray:
        if counted and mark is not None:
            mark(1)
        logits = decoder.step(tokens, pos)
        if counted and mark is not None:
            mark(2)
        return logits

    decoder.reset()
    t0 = time.perf_counter()
    logits = run(prompt, 0, phase == "prefill")
    tokens, all_logits, times = [argmax(logits)], [logits], [(time.perf_counter() - t0) * 1e3]
    pos = len(prompt)
    for _ in range(steps - 1):
        t0 = time.perf_counter()
        logits = run([tokens[-1]], pos, phase == "decode")
        tokens.append(argmax(logits))
        times.append((time.perf_counter() - t0) * 1e3)
        all_logits.append(logits)
        pos += 1
    return {"tokens": tokens, "logits": all_logits, "step_ms": times}


def teacher_forced(decoder: Any, tokens: Sequence[int]) -> np.ndarray:
    """Logits after each token of `tokens`, fed one decode step at a time ([N, vocab])."""
    decoder.reset()
    return np.stack([decoder.step([t], i) for i, t in enumerate(tokens)])


def _encoder_stats(decoder: Any) -> dict[str, Any]:
    """An encoder-decoder's encoder runs (one per generation, inside time to first token)."""
    times = getattr(decoder, "encoder_ms", None)
    return {"encoder": _stats(times)} if times else {}


def _stats(values: list[float]) -> dict[str, float]:
    a = np.asarray(values, dtype=np.float64)
    return {"count": int(a.size), "mean_ms": float(a.mean()), "p50_ms": float(np.median(a)), "min_ms": float(a.min())}


def profile_generation(
    decoder: Any,
    prompt: Sequence[int],
    new_tokens: int,
    runs: int = 3,
    warmup: int = 1,
    count: tuple[str, int, Callable[[int], None]] | None = None,
) -> dict[str, Any]:
    """Time to first token (prefill of `prompt` + its argmax) and decode speed over `runs` generations.

    `count` = (phase, runs, mark): mark that phase in the first `runs` timed generations."""
    if len(prompt) + new_tokens > decoder.cache_len:
        raise GenerationError(
            f"{len(prompt)} prompt + {new_tokens} new tokens exceed the cache of {decoder.cache_len} positions"
        )
    for _ in range(warmup):
        greedy(decoder, prompt, min(new_tokens, 4))
    ttft, decode = [], []
    for i in range(max(runs, 1)):
        phase, mark = (count[0], count[2]) if count is not None and i < count[1] else ("", None)
        run = greedy(decoder, prompt, new_tokens, mark, phase)
        ttft.append(run["step_ms"][0])
        decode.extend(run["step_ms"][1:])
    per_token = float(np.mean(decode)) if decode else float("nan")
    return {
        "prompt_len": len(prompt),
        "new_tokens": new_tokens,
        "runs": max(runs, 1),
        "ttft": _stats(ttft),
        "decode_step": _stats(decode) if decode else None,
        "decode_tokens_per_s": 1e3 / per_token if decode else None,
        "decode_tokens_per_s_p50": 1e3 / float(np.median(decode)) if decode else None,
        "tokens": run["tokens"],
        "counted": {"phase": count[0], "runs": min(count[1], max(runs, 1))} if count else None,
        "timed_region": "prefill = set inputs + run + read logits + argmax; decode step = the same for one token",
    }


# ----------------------------------------------------------------------------- .pte metadata

_INT, _BOOL = 2, 3  # KernelTypes union tags (schema/program.fbs: NONE=0, Null, Int, Bool, ...)


def pte_constants(path: str) -> dict[str, int]:
    """Int/bool constant methods of a .pte (get_max_seq_len, ...), read from its flatbuffer."""
    with open(path, "rb") as handle:
        buf = handle.read()

    def table(pos: int) -> tuple[int, int, int]:
        vtable = pos - struct.unpack_from("<i", buf, pos)[0]
        return pos, vtable, struct.unpack_from("<H", buf, vtable)[0]

    def field(t: tuple[int, int, int], slot: int) -> int | None:
        pos, vtable, vsize = t
        if 4 + 2 * slot >= vsize:
            return None
        off = struct.unpack_from("<H", buf, vtable + 4 + 2 * slot)[0]
        return pos + off if off else None

    def ref(at: int) -> int:
        return at + struct.unpack_from("<I", buf, at)[0]

    def vector(t: tuple[int, int, int], slot: int) -> list[tuple[int, int, int]]:
        at = field(t, slot)
        if at is None:
            return []
        vec = ref(at)
        return [table(ref(vec + 4 + 4 * i)) for i in range(struct.unpack_from("<I", buf, vec)[0])]

    def string(t: tuple[int, int, int], slot: int) -> str:
        at = field(t, slot)
        if at is None:
            return ""
        start = ref(at)
        return buf[start + 4 : start + 4 + struct.unpack_from("<I", buf, start)[0]].decode("utf-8", "replace")

    out: dict[str, int] = {}
    for plan in vector(table(struct.unpack_from("<I", buf, 0)[0]), 1):
        name, values = string(plan, 0), vector(plan, 2)
        if name == "forward" or len(values) != 1:
            continue
        kind_at, val_at = field(values[0], 0), field(values[0], 1)
        if kind_at is None or val_at is None:
            continue
        kind, inner = buf[kind_at], table(ref(val_at))
        slot = field(inner, 0)
        if kind == _INT:
            out[name] = struct.unpack_from("<q", buf, slot)[0] if slot is not None else 0
        elif kind == _BOOL:
            out[name] = int(buf[slot]) if slot is not None else 0
    return out


# ----------------------------------------------------------------------------- harness mode


def harness_generate(
    args: Any,
    stage: Callable[[str], None],
    status_kb: Callable[[], dict[str, int]],
    mark: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """The harness's --generate mode: load the decoder, then time prefill and decode.

    Prompt: --prompt ids (comma-separated) or --prompt-len seeded random ids."""
    base = os.path.basename(args.model)
    rss = {"start": status_kb()}
    stage(f"loading {base} as a decoder")
    t0 = time.perf_counter()
    try:
        decoder = open_decoder(args.model, args.num_threads, args.et_lib)
    except GenerationError:
        raise
    except Exception as exc:  # noqa: BLE001 - the runtime's own exception types vary
        raise DecoderLoadError(
            f"cannot load {base}: {type(exc).__name__}: {' '.join(str(exc).split())[:400]}"
        ) from None
    load_ms = (time.perf_counter() - t0) * 1e3
    rss["loaded"] = status_kb()
    if args.prompt:
        prompt = [int(t) for t in args.prompt.split(",") if t.strip()]
    else:  # an encoder-decoder's prompt starts with its decoder start token
        vocab, start = decoder.vocab or 2, getattr(decoder, "start_token", None)
        prompt = [int(t) for t in np.random.default_rng(args.seed).integers(0, vocab, args.prompt_len)]
        prompt = prompt if start is None else [start, *prompt[1:]]
    stage(f"generating {args.new_tokens} tokens after a {len(prompt)}-token prompt ({args.num_runs} runs)")
    phase = getattr(args, "count_phase", None)
    count = (phase, int(args.count_runs), mark) if phase and mark is not None and args.count_runs else None
    report = profile_generation(
        decoder, prompt, args.new_tokens, runs=args.num_runs, warmup=args.warmup_runs, count=count
    )
    rss["end"] = status_kb()
    cache = decoder.cache_bytes() if hasattr(decoder, "cache_bytes") else None
    return {
        "runtime": {"name": decoder.name, "version": decoder.version, "num_threads": args.num_threads},
        "model": {"path": os.path.abspath(args.model), "size_bytes": os.path.getsize(args.model)},
        "decoder": {"cache_len": decoder.cache_len, "vocab": decoder.vocab, "max_prefill": decoder.max_prefill},
        "generation": {"load_ms": load_ms, **report, **_encoder_stats(decoder)},
        "memory": {
            "rss_start_kb": rss["start"].get("VmRSS"),
            "rss_loaded_kb": rss["loaded"].get("VmRSS"),
            "peak_rss_kb": rss["end"].get("VmHWM"),
            "peak_over_start_kb": (rss["end"].get("VmHWM") or 0) - (rss["start"].get("VmRSS") or 0),
            "kv_cache_host_bytes": cache,
            "note": "peak = VmHWM after the runs, KV cache included (onnxruntime: the two cache copies "
            "the loop swaps; ExecuTorch: inside the program's planned memory)",
        },
    }
