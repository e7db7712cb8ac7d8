"""Encoder-decoder speech models (Whisper): presets with seeded random weights, local checkpoints.

The second class of generative model next to the decoder-only causal LMs (`source.py`): an
audio encoder run once over log-mel features, and a text decoder with a static self-attention
KV cache run one token at a time. Same loader rules as the causal LMs: never downloads,
safetensors only (pickles refused unless trusted), no custom modelling code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_kit.errors import UsageError
from edge_kit.generative.families import Family
from edge_kit.generative.results import KVLayout

WHISPER = Family("whisper", "Whisper", False)
KIND = "encoder-decoder"


def _whisper(layers: int, width: int, heads: int, ffn: int, vocab: int, start: int) -> dict[str, Any]:
    return {
        "d_model": width,
        "encoder_layers": layers,
        "decoder_layers": layers,
        "encoder_attention_heads": heads,
        "decoder_attention_heads": heads,
        "encoder_ffn_dim": ffn,
        "decoder_ffn_dim": ffn,
        "vocab_size": vocab,
        "num_mel_bins": 80,
        "max_source_positions": 1500,  # 3000 mel frames after the stride-2 conv: fixed by Whisper
        "max_target_positions": 448,
        "decoder_start_token_id": start,
        # Random weights at the default 0.02 give near-uniform logits (greedy steps decided by
        # hundredths); a wider init gives top-2 margins of ~1 logit, so the check tests the export.
        "init_std": 0.1,
    }


# name -> WhisperConfig kwargs. whisper-tiny has the real shapes; whisper-mini keeps Whisper's
# 80 x 3000 input (its conv and positions fix it) with narrow layers and a small vocabulary, for tests.
WHISPER_PRESETS: dict[str, dict[str, Any]] = {
    "whisper-tiny": _whisper(4, 384, 6, 1536, 51865, 50258),
    "whisper-mini": _whisper(2, 64, 4, 128, 1024, 1),
}


@dataclass
class SpeechSeq2Seq:
    """A Whisper model in eval mode, fp32: encoder over [1, mels, frames] features, text decoder."""

    model: Any  # transformers WhisperForConditionalGeneration
    origin: str
    family: Family = WHISPER
    kind: str = KIND

    @property
    def config(self) -> Any:
        return self.model.config

    @property
    def tied_embeddings(self) -> bool:
        return bool(self.model.proj_out.weight is self.model.get_decoder().embed_tokens.weight)

    @property
    def features_shape(self) -> tuple[int, int, int]:
        """[1, mel bins, frames] of the encoder's input (frames = 2 x max_source_positions)."""
        return 1, int(self.config.num_mel_bins), 2 * int(self.config.max_source_positions)

    @property
    def hidden_shape(self) -> tuple[int, int, int]:
        return 1, int(self.config.max_source_positions), int(self.config.d_model)

    @property
    def start_token(self) -> int:
        return int(self.config.decoder_start_token_id)

    def layout(self, cache_len: int) -> KVLayout:
        """The decoder's static self-attention cache; refuses lengths beyond max_target_positions."""
        cfg = self.config
        positions = int(cfg.max_target_positions)
        if cache_len < 2:
            raise UsageError(f"cache length {cache_len} is too short", hint="pass a cache length of at least 2")
        if cache_len > positions:
            raise UsageError(
                f"cache length {cache_len} is beyond the model's {positions} decoder positions (max_target_positions)",
                hint=f"pass a cache length of at most {positions}",
            )
        heads = int(cfg.decoder_attention_heads)
        return KVLayout(
            num_layers=int(cfg.decoder_layers),
            num_kv_heads=heads,
            head_dim=int(cfg.d_model) // heads,
            cache_len=int(cache_len),
            vocab_size=int(cfg.vocab_size),
            max_positions=positions,
        )

    def encode(self, prompt: Any) -> list[int]:
        """Decoder prompt ids (range-checked); None = the decoder start token."""
        ids = [self.start_token] if prompt is None else [int(t) for t in prompt]
        vocab = int(self.config.vocab_size)
        if not ids or isinstance(prompt, str):
            raise UsageError("a speech decoder prompt is a list of token ids", hint="e.g. [decoder_start_token_id]")
        bad = [t for t in ids if not 0 <= t < vocab]
        if bad:
            raise UsageError(f"token id {bad[0]} is outside the vocabulary (0..{vocab - 1})")
        return ids


def is_whisper_config(config: Any) -> bool:
    return getattr(config, "model_type", None) == "whisper"


def config_model_type(path: Path) -> str | None:
    """model_type of a config.json (a folder's or the file itself) without loading transformers; None if unreadable."""
    import json

    file = path / "config.json" if path.is_dir() else path
    try:
        value = json.loads(file.read_text()).get("model_type")
    except (OSError, ValueError, AttributeError):
        return None
    return str(value) if value else None


def _prepare(model: Any) -> Any:
    model = model.float().eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def random_whisper(config: str | Path | Any = "whisper-tiny", *, seed: int = 0, **overrides: Any) -> SpeechSeq2Seq:
    """Whisper with seeded random weights from a preset name, a config.json path or a WhisperConfig."""
    import torch
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    if isinstance(config, str) and config in WHISPER_PRESETS:
        specials = {"bos_token_id": None, "eos_token_id": None, "pad_token_id": 0}
        cfg = WhisperConfig(**{**specials, **WHISPER_PRESETS[config], **overrides})
        origin = f"{config} config + random weights (seed {seed})"
    elif isinstance(config, str | Path):
        from edge_kit.generative.source import _read_config_file

        cfg = _read_config_file(Path(config))
        for key, value in overrides.items():
            setattr(cfg, key, value)
        origin = f"{Path(config).name} + random weights (seed {seed})"
    else:
        cfg, origin = config, f"{config.model_type} config + random weights (seed {seed})"
    if not is_whisper_config(cfg):
        raise UsageError(f"{getattr(cfg, 'model_type', cfg)!r} is not a Whisper config")
    torch.manual_seed(seed)
    return SpeechSeq2Seq(_prepare(WhisperForConditionalGeneration(cfg)), origin)


def load_whisper(folder: str | Path, *, trust_pickle: bool = False) -> SpeechSeq2Seq:
    """A local Whisper checkpoint folder (config.json + safetensors), fp32, eval mode; never downloads."""
    from transformers import WhisperForConditionalGeneration

    from edge_kit.generative.source import _read_config_file, load_weights

    folder = Path(folder)
    config = _read_config_file(folder / "config.json")
    if not is_whisper_config(config):
        raise UsageError(f"{folder.name} holds a {config.model_type} model, not Whisper")
    model = load_weights(WhisperForConditionalGeneration, folder, config, trust_pickle)
    return SpeechSeq2Seq(_prepare(model), str(folder))


def load_speech_source(model: Any, *, seed: int = 0, trust_model: bool = False) -> tuple[SpeechSeq2Seq, str, str]:
    """(model, kind, name) of a Whisper spec: `preset:whisper-*`, a checkpoint folder, a config.json, a live model."""
    from edge_kit.generative.request import PRESET

    if isinstance(model, SpeechSeq2Seq):
        return model, "live", "whisper"
    if not isinstance(model, str | Path):
        return SpeechSeq2Seq(_prepare(model), f"live {type(model).__name__}"), "live", "whisper"
    text = str(model)
    if text.startswith(PRESET):
        name = text[len(PRESET) :]
        return random_whisper(name, seed=seed), "preset", name
    if Path(text).is_dir():
        return load_whisper(text, trust_pickle=trust_model), "checkpoint", Path(text).name
    return random_whisper(Path(text), seed=seed), "config", Path(text).stem


def is_speech_source(model: Any) -> bool:
    """Whether `model` names a Whisper model (told by its form or its config's model_type, never loaded)."""
    from edge_kit.generative.request import PRESET

    if isinstance(model, SpeechSeq2Seq):
        return True
    if isinstance(model, str | Path):
        text = str(model)
        if text.startswith(PRESET):
            return text[len(PRESET) :] in WHISPER_PRESETS
        try:
            path = Path(text)
            if path.is_dir() or path.suffix == ".json":
                return config_model_type(path) == "whisper"
        except OSError:
            return False
        return False
    return is_whisper_config(getattr(model, "config", None))


def seeded_features(shape: tuple[int, int, int], seed: int = 0) -> Any:
    """The fixed input of the greedy check: seeded N(0, 0.5) values in log-mel range (float32 numpy)."""
    from edge_kit.harness.harness_seq2seq import seeded_features as harness_features

    return harness_features(shape, seed)
