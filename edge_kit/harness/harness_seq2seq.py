"""Encoder-decoder (Whisper) artifacts in the harness's generation loop.

Standalone like harness_generate.py (stdlib + numpy + the runtime): an `EncoderDecoder` has
the decoder-only contract `step(tokens, start) -> logits of the last token`, so `greedy`,
`teacher_forced` and `profile_generation` run it unchanged. A call at position 0 first runs
the encoder over the fixed input features (so time to first token = encoder + first decoder
step, and the encoder's own time is kept in `encoder_ms`); the text decoder then takes one
token per call, its self-attention cache inside the program (ExecuTorch) or passed in and
out (ONNX), and the encoder's hidden states at every step.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

KIND = "encoder-decoder"
METADATA_KEY = "edgekit.generative"


def seeded_features(shape: Sequence[int], seed: int = 0) -> np.ndarray:
    """Fixed encoder input: seeded N(0, 0.5) float32 values (roughly the range of Whisper's log-mels)."""
    return (np.random.default_rng(seed).standard_normal(tuple(shape)) * 0.5).astype(np.float32)


class EncoderDecoder:
    """An encoder + one-token text decoder behind `step(tokens, start)`."""

    kind = KIND

    def __init__(
        self,
        encode: Callable[[np.ndarray], np.ndarray],
        decode: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray],
        meta: dict[str, Any],
        name: str,
        version: str,
    ) -> None:
        self.encode, self.decode, self.name, self.version = encode, decode, name, version
        self.cache_len = int(meta["cache_len"])
        self.vocab = int(meta.get("vocab_size", 0))
        self.start_token = int(meta["decoder_start_token_id"])
        self.features_shape = [int(d) for d in meta["features_shape"]]
        self.max_prefill = self.cache_len  # a prompt runs one token per call
        self.features = seeded_features(self.features_shape, 0)
        self.hidden: np.ndarray | None = None
        self.encoder_ms: list[float] = []

    def reset(self) -> None:
        """Nothing to clear: a generation starts at position 0, which re-runs the encoder."""

    def step(self, tokens: Sequence[int] | np.ndarray, start: int) -> np.ndarray:
        ids = np.asarray(tokens, dtype=np.int64).reshape(-1)
        if len(ids) < 1 or start + len(ids) > self.cache_len:
            raise ValueError(f"positions {start}..{start + len(ids)} do not fit the cache of {self.cache_len}")
        if start == 0 or self.hidden is None:
            t0 = time.perf_counter()
            self.hidden = np.asarray(self.encode(self.features))
            self.encoder_ms.append((time.perf_counter() - t0) * 1e3)
        logits = np.zeros(0, np.float32)
        for i, token in enumerate(ids):
            pos = np.array([start + i], np.int64)
            logits = np.asarray(self.decode(np.array([[token]], np.int64), self.hidden, pos)).reshape(-1)
        return logits


class OrtEncoderDecoder(EncoderDecoder):
    """An Optimum-style ONNX folder: encoder.onnx and decoder.onnx (self-attention past/present I/O)."""

    def __init__(self, folder: str, threads: int = 1) -> None:
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads, so.inter_op_num_threads, so.log_severity_level = threads, 1, 3
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        providers = ["CPUExecutionProvider"]
        self.enc = ort.InferenceSession(os.path.join(folder, "encoder.onnx"), so, providers=providers)
        self.dec = ort.InferenceSession(os.path.join(folder, "decoder.onnx"), so, providers=providers)
        meta = json.loads(self.dec.get_modelmeta().custom_metadata_map.get(METADATA_KEY, "{}"))
        if meta.get("kind") != KIND:
            raise ValueError(f"{os.path.basename(folder)}/decoder.onnx is not an edgekit encoder-decoder")
        inputs = {i.name: i for i in self.dec.get_inputs()}
        self.past = [n for n in inputs if n.startswith("past_")]
        self.present = ["present_" + n[len("past_") :] for n in self.past]
        self.cache = [np.zeros([int(d) for d in inputs[n].shape], np.float32) for n in self.past]
        super().__init__(self._encode, self._decode, meta, "onnxruntime", ort.__version__)

    def _encode(self, features: np.ndarray) -> np.ndarray:
        return np.asarray(self.enc.run(["encoder_hidden_states"], {"input_features": features})[0])

    def _decode(self, ids: np.ndarray, hidden: np.ndarray, pos: np.ndarray) -> np.ndarray:
        feed = {"decoder_input_ids": ids, "encoder_hidden_states": hidden, "cache_position": pos}
        feed.update(zip(self.past, self.cache))
        logits, *self.cache = self.dec.run(["logits", *self.present], feed)
        return np.asarray(logits)

    def cache_bytes(self) -> int:
        return sum(a.nbytes for a in self.cache)


class EtEncoderDecoder(EncoderDecoder):
    """A `.pte` with `encoder` and `text_decoder` methods, through edgekit's ExecuTorch shim (one
    handle per method; the decoder's self-attention cache stays in its mutable buffers)."""

    def __init__(self, lib: str, path: str, meta: dict[str, Any], threads: int = 1) -> None:
        try:
            from . import et_runtime  # imported as edge_kit.harness.harness_seq2seq
        except ImportError:
            import et_runtime  # type: ignore[no-redef]  # run next to the harness script

        self.enc = et_runtime.EtModel(lib, path, num_threads=threads, method="encoder")
        self.dec = et_runtime.EtModel(lib, path, num_threads=threads, method="text_decoder")
        version = et_runtime.load_library(lib).et_version().decode()
        super().__init__(self._encode, self._decode, meta, "executorch", f"{version} (edgekit shim)")

    def _encode(self, features: np.ndarray) -> np.ndarray:
        return np.asarray(self.enc.run([features])[0])

    def _decode(self, ids: np.ndarray, hidden: np.ndarray, pos: np.ndarray) -> np.ndarray:
        return np.asarray(self.dec.run([ids, hidden, pos])[0])


def pte_encoder_decoder_meta(consts: dict[str, int]) -> dict[str, Any] | None:
    """The encoder-decoder facts of a .pte's constant methods, None for a decoder-only program."""
    if "get_decoder_start_token_id" not in consts:
        return None
    return {
        "cache_len": consts["get_max_seq_len"],
        "vocab_size": consts.get("get_vocab_size", 0),
        "decoder_start_token_id": consts["get_decoder_start_token_id"],
        "features_shape": [1, consts["get_n_mels"], consts["get_n_frames"]],
    }
