"""Load a decoder-only causal LM: a local Hugging Face checkpoint folder, or a config with seeded random weights.

Never downloads: checkpoints load with `local_files_only` under HF_HUB_OFFLINE. Weights load
from safetensors; pickled `.bin`/`.pt` weights would run code from the file and are refused
unless the caller trusts them. Bad input raises one-line edgekit errors.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_kit.errors import ModelLoadError, TrustError, UsageError
from edge_kit.generative.families import PRESETS, Family, build_config, check_family, preset
from edge_kit.generative.results import KVLayout

PICKLED_WEIGHTS = ("*.bin", "*.pt", "*.pth", "*.ckpt")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "tokenizer_config.json")


@dataclass
class CausalLM:
    """A loaded decoder in eval mode, fp32, with its family and (optional) tokenizer."""

    model: Any  # transformers PreTrainedModel
    family: Family
    origin: str
    tokenizer: Any | None = None

    @property
    def config(self) -> Any:
        return self.model.config.get_text_config()

    @property
    def tied_embeddings(self) -> bool:
        head = self.model.get_output_embeddings()
        return head is not None and head.weight is self.model.get_input_embeddings().weight

    def layout(self, cache_len: int) -> KVLayout:
        """The static cache for `cache_len` positions; refuses lengths beyond the model's positions."""
        from transformers.integrations.executorch import get_head_shapes

        config = self.config
        positions = int(getattr(config, "max_position_embeddings", 0) or 0)
        if cache_len < 2:
            raise UsageError(f"cache length {cache_len} is too short", hint="pass a cache length of at least 2")
        if positions and cache_len > positions:
            raise UsageError(
                f"cache length {cache_len} is beyond the model's {positions} positions (max_position_embeddings)",
                hint=f"pass a cache length of at most {positions}",
            )
        window = getattr(config, "sliding_window", None)
        if window and any(t != "full_attention" for t in getattr(config, "layer_types", None) or ()):
            if cache_len > window:
                raise UsageError(
                    f"cache length {cache_len} exceeds the sliding window ({window}) of this model's local layers",
                    hint=f"pass a cache length of at most {window}",
                )
        kv_heads, head_dim = get_head_shapes(config)
        return KVLayout(
            num_layers=int(config.num_hidden_layers),
            num_kv_heads=int(kv_heads),  # type: ignore[arg-type]
            head_dim=int(head_dim),  # type: ignore[arg-type]
            cache_len=int(cache_len),
            vocab_size=int(config.vocab_size),
            max_positions=positions,
        )

    def encode(self, prompt: str | Sequence[int]) -> list[int]:
        """Token ids of a prompt: ids pass through (range-checked); text needs the tokenizer."""
        vocab = int(self.config.vocab_size)
        if isinstance(prompt, str):
            if self.tokenizer is None:
                raise UsageError(
                    f"a text prompt needs a tokenizer and {self.origin} has none",
                    hint="pass token ids instead, or a checkpoint folder with tokenizer files",
                )
            ids = list(self.tokenizer(prompt)["input_ids"])
        else:
            ids = [int(t) for t in prompt]
        if not ids:
            raise UsageError("the prompt is empty", hint="pass at least one token")
        bad = [t for t in ids if not 0 <= t < vocab]
        if bad:
            raise UsageError(f"token id {bad[0]} is outside the vocabulary (0..{vocab - 1})")
        return ids


@contextlib.contextmanager
def _offline() -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    os.environ.update({k: "1" for k in saved})
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def conv1d_to_linear(module: Any) -> Any:
    """Replace transformers' Conv1D (GPT-2's [in, out] layers) by nn.Linear: the same maths,
    and the layer type every quantizer and exporter recognises."""
    import torch
    from transformers.pytorch_utils import Conv1D

    for name, child in list(module.named_children()):
        if isinstance(child, Conv1D):
            fan_in, fan_out = child.weight.shape
            linear = torch.nn.Linear(fan_in, fan_out, bias=child.bias is not None)
            linear.weight = torch.nn.Parameter(child.weight.detach().t().contiguous())
            if child.bias is not None:
                linear.bias = torch.nn.Parameter(child.bias.detach().clone())
            linear.edgekit_from_conv1d = True  # type: ignore[assignment]  # save_checkpoint restores Conv1D layout
            setattr(module, name, linear)
        else:
            conv1d_to_linear(child)
    return module


def _prepare(model: Any) -> Any:
    model = conv1d_to_linear(model.float().eval())
    model.config.use_cache = True
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def random_causal_lm(config: str | Mapping[str, Any] | Any, *, seed: int = 0, **overrides: Any) -> CausalLM:
    """A model with seeded random weights from a preset name ('llama-tiny'), a family name with
    config kwargs ('gpt2', n_layer=2, ...), a config.json path, or a transformers config."""
    import torch
    from transformers import AutoModelForCausalLM

    if isinstance(config, str | Path) and Path(config).suffix == ".json":
        cfg = _read_config_file(Path(config))
        for key, value in overrides.items():
            setattr(cfg, key, value)
        origin = f"{Path(config).name} + random weights (seed {seed})"
    elif isinstance(config, str):
        model_type, kwargs = preset(config, **overrides) if config in PRESETS else (config, dict(overrides))
        cfg = build_config(model_type, kwargs)
        origin = f"{config} config + random weights (seed {seed})"
    elif isinstance(config, Mapping):
        kwargs = {**config, **overrides}
        cfg = build_config(str(kwargs.pop("model_type", "")), kwargs)
        origin = f"{cfg.model_type} config + random weights (seed {seed})"
    else:
        cfg = config
        origin = f"{cfg.model_type} config + random weights (seed {seed})"
    family = check_family(cfg)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
    return CausalLM(_prepare(model), family, origin)


def _read_config_file(path: Path) -> Any:
    from transformers import AutoConfig

    if not path.is_file():
        raise ModelLoadError(f"no such config file: {path}")
    try:
        with _offline():
            return AutoConfig.from_pretrained(str(path), local_files_only=True, trust_remote_code=False)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelLoadError(f"cannot read {path.name}: {' '.join(str(exc).split())[:200]}") from None


def _weights(folder: Path, trust_pickle: bool) -> bool:
    """True when the folder holds safetensors; False when only (trusted) pickled weights."""
    if any(folder.glob("*.safetensors")):
        return True
    pickled = sorted(p.name for pattern in PICKLED_WEIGHTS for p in folder.glob(pattern))
    if pickled and not trust_pickle:
        raise TrustError(
            f"{folder.name} holds only pickled weights ({pickled[0]}); loading them would run code from the file",
            hint="convert them to safetensors, or pass trust_pickle=True (--trust-model) if you trust the file",
        )
    if not pickled:
        raise ModelLoadError(f"{folder} has a config.json but no weights (*.safetensors)")
    return False


def _tokenizer(folder: Path) -> Any | None:
    if not any((folder / name).is_file() for name in TOKENIZER_FILES):
        return None
    from transformers import AutoTokenizer

    try:
        with _offline():
            return AutoTokenizer.from_pretrained(str(folder), local_files_only=True, trust_remote_code=False)
    except (OSError, ValueError, ImportError) as exc:
        from edge_kit.progress import warn

        warn(f"the tokenizer in {folder.name} did not load ({type(exc).__name__}); token ids only")
        return None


def load_causal_lm(folder: str | Path, *, trust_pickle: bool = False) -> CausalLM:
    """A local checkpoint folder (config.json + safetensors [+ tokenizer files]), fp32, eval mode."""
    from transformers import AutoModelForCausalLM

    folder = Path(folder)
    if not folder.is_dir():
        raise ModelLoadError(f"{folder} is not a checkpoint folder", hint="pass a folder holding config.json")
    config = _read_config_file(folder / "config.json")
    family = check_family(config)
    model = load_weights(AutoModelForCausalLM, folder, config, trust_pickle)
    return CausalLM(_prepare(model), family, str(folder), _tokenizer(folder))


def load_weights(model_class: Any, folder: Path, config: Any, trust_pickle: bool) -> Any:
    """`model_class.from_pretrained(folder)` in fp32, offline, without remote code; pickled
    weights only with `trust_pickle`."""
    import torch

    safetensors = _weights(folder, trust_pickle)
    try:
        with _offline():
            return model_class.from_pretrained(
                str(folder),
                config=config,
                local_files_only=True,
                trust_remote_code=False,
                use_safetensors=safetensors,
                dtype=torch.float32,
            )
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        raise ModelLoadError(f"cannot load the weights in {folder}: {' '.join(str(exc).split())[:200]}") from None


def word_level_tokenizer(vocab_size: int) -> Any:
    """A tokenizer for a model without one: token `t{i}` is id i, whitespace-separated
    (tools that insist on a tokenizer, e.g. litert-torch's exporter, get a real one)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel({f"t{i}": i for i in range(vocab_size)}, unk_token="t0"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="t0")


def save_checkpoint(lm: CausalLM, folder: str | Path) -> Path:
    """Write `lm` as a checkpoint folder (config.json, safetensors, tokenizer): layers converted
    from Conv1D go back to Conv1D's [in, out] layout, so transformers reloads the same model."""
    folder = Path(folder)
    converted = {name for name, m in lm.model.named_modules() if getattr(m, "edgekit_from_conv1d", False)}
    state = {
        key: (value.t().contiguous() if key.rsplit(".", 1)[0] in converted and key.endswith(".weight") else value)
        for key, value in lm.model.state_dict().items()
    }
    lm.model.save_pretrained(str(folder), state_dict=state)
    (lm.tokenizer or word_level_tokenizer(int(lm.config.vocab_size))).save_pretrained(str(folder))
    return folder
