"""`edgekit export` / `edge_kit.export` of a causal LM: what the CLI and the API call.

A model is generative when it is a `preset:NAME` spec (seeded random weights), a checkpoint
folder (config.json + safetensors), a config.json (seeded random weights), a live
transformers causal LM or a `CausalLM`. The artifact and its manifest are made in a private
folder next to the destination and renamed into place after validation: nothing partial is
left behind, and `-o` is exactly the file written.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_kit.errors import UnsupportedError, UsageError
from edge_kit.generative.results import GenerativeArtifact, GreedyCheck

PRESET = "preset:"
FORMATS = {"executorch": ".pte", "onnx": ".onnx", "tflite": ".tflite"}
# edgekit's precision names -> the engine's (int8 = int8 weights, activations quantized on the fly)
PRECISIONS = {"fp32": "fp32", "int8": "int8", "int8-dynamic": "int8", "int4": "int4"}


@dataclass
class LoadedSource:
    lm: Any  # edge_kit.generative.source.CausalLM
    kind: str  # checkpoint | config | preset | live
    name: str  # stem for a default output name
    load_s: float


def is_generative(model: Any) -> bool:
    """Whether `model` is a causal-LM or Whisper source (a path or spec is told by its form, never loaded)."""
    from edge_kit.generative.seq2seq import is_speech_source

    if is_speech_source(model):
        return True
    if isinstance(model, str | Path):
        text = str(model)
        if text.startswith(PRESET):
            return True
        path = Path(text)
        try:
            if path.is_dir():
                return (path / "config.json").is_file() and not (path / "saved_model.pb").exists()
        except OSError:  # a name the file system refuses (too long): the model loader says so in one line
            return False
        return path.suffix == ".json"
    from edge_kit.generative.source import CausalLM

    if isinstance(model, CausalLM):
        return True
    return any(cls.__name__ == "GenerationMixin" for cls in type(model).__mro__)


def load_source(model: Any, *, seed: int = 0, trust_model: bool = False) -> LoadedSource:
    """The CausalLM (or Whisper SpeechSeq2Seq) behind `model` (see `is_generative`)."""
    from edge_kit.generative.seq2seq import is_speech_source, load_speech_source
    from edge_kit.generative.source import CausalLM, _prepare, load_causal_lm, random_causal_lm

    start = time.perf_counter()
    if is_speech_source(model):
        speech, kind, stem = load_speech_source(model, seed=seed, trust_model=trust_model)
        return LoadedSource(speech, kind, stem, time.perf_counter() - start)
    if isinstance(model, CausalLM):
        return LoadedSource(model, "live", "model", 0.0)
    if not isinstance(model, str | Path):
        from edge_kit.generative.families import check_family

        family = check_family(model.config)
        lm = CausalLM(_prepare(model), family, f"live {type(model).__name__}")
        return LoadedSource(lm, "live", model.config.model_type, time.perf_counter() - start)
    text = str(model)
    if text.startswith(PRESET):
        name = text[len(PRESET) :]
        lm, kind = random_causal_lm(name, seed=seed), "preset"
    elif Path(text).is_dir():
        lm, kind, name = load_causal_lm(text, trust_pickle=trust_model), "checkpoint", Path(text).name
    else:
        lm, kind, name = random_causal_lm(text, seed=seed), "config", Path(text).stem
    return LoadedSource(lm, kind, name, time.perf_counter() - start)


def resolve_format(fmt: str | None, output: Path | None, target: Any) -> str:
    """The artifact format: --format, else the output's suffix, else the target's first format we make."""
    if fmt is not None:
        from edge_kit.registry import get_format

        name = get_format(fmt).name
        if name not in FORMATS:
            raise UnsupportedError(
                f"no generative export to {name}", hint=f"decoders export to {', '.join(FORMATS)} (--format)"
            )
        return name
    if output is not None:
        for name, suffix in FORMATS.items():
            if output.suffix == suffix:
                return name
    for name in target.preferred_formats:
        if name in FORMATS:
            return str(name)
    raise UnsupportedError(
        f"none of {target.name}'s formats ({', '.join(target.preferred_formats)}) takes a generative decoder",
        hint=f"pass --format {' | '.join(FORMATS)}",
    )


def _is_speech(src: LoadedSource) -> bool:
    return getattr(src.lm, "kind", "") == "encoder-decoder"


def _destination(output: Path | None, fmt: str, name: str, precision: str, folder: bool = False) -> Path:
    """`-o` checked against the format (an encoder-decoder ONNX export is a folder: `folder`)."""
    if folder:
        if output is None:
            return Path.cwd() / f"{name}_{precision}_onnx"
        if output.suffix == ".onnx":
            raise UsageError(
                f"an encoder-decoder ONNX export is a folder (encoder.onnx + decoder.onnx), not {output.name}",
                hint="name the output folder without .onnx, e.g. -o whisper_onnx/",
            )
        return output
    suffix = FORMATS[fmt]
    if output is None:
        return Path.cwd() / f"{name}_{precision}{suffix}"
    if output.suffix != suffix:
        raise UsageError(
            f"output {output.name} does not end in {suffix}, the suffix of a {fmt} decoder",
            hint=f"name the output *{suffix} (runtimes pick the decoder loop by it)",
        )
    return output


def export_generative(
    model: Any,
    *,
    format: str | None = None,
    target: str = "host",
    quantize: str | None = None,
    output: str | Path | None = None,
    cache_len: int = 128,
    validate_steps: int = 8,
    prompt: list[int] | str | None = None,
    seed: int = 0,
    trust_model: bool = False,
    allow_mismatch: bool = False,
    **options: Any,
) -> Any:
    """Export a causal LM with a static KV cache, validate `validate_steps` greedy steps in the
    artifact's runtime, write the manifest; returns an `ExportResult` (ValidationError on a
    mismatch unless `allow_mismatch`)."""
    from edge_kit.fsutil import check_writable, write_text_atomic
    from edge_kit.generative.api import export_decoder
    from edge_kit.manifest import manifest_path
    from edge_kit.pipeline.context import ExportResult
    from edge_kit.progress import step
    from edge_kit.targets import get_target

    precision = PRECISIONS.get(quantize or "fp32")
    if precision is None:
        raise UnsupportedError(
            f"no {quantize} export of a generative decoder", hint=f"precisions: {', '.join(PRECISIONS)} (--quantize)"
        )
    if validate_steps < 1:
        raise UsageError("a generative export is validated by at least one greedy step")
    tgt = get_target(target)
    out = Path(output) if output is not None else None
    fmt = resolve_format(format, out, tgt)
    with step("loading the generative model"):
        src = load_source(model, seed=seed, trust_model=trust_model)
    folder = _is_speech(src) and fmt == "onnx"
    dest = _destination(out, fmt, src.name, precision, folder)
    src.lm.layout(cache_len)  # a cache beyond the model's positions fails before the export
    check_writable(dest, directory=folder)
    if folder:
        _check_replaceable(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".edgekit-gen-", dir=dest.parent))
    try:
        tmp = work / dest.name
        with step(f"exporting the {src.lm.family.label} decoder to {fmt} {precision} (cache {cache_len})"):
            t0 = time.perf_counter()
            export = _speech_export(fmt) if _is_speech(src) else export_decoder
            artifact, check = export(
                src.lm,
                tmp,
                fmt=fmt,
                cache_len=cache_len,
                precision=precision,
                validate_steps=validate_steps,
                prompt=prompt,
                **options,
            )
            total = time.perf_counter() - t0
        assert check is not None
        manifest = build_manifest(src, artifact, check, tgt, (src.load_s, total))
        text = manifest_text(manifest)
        if folder and dest.is_dir():
            shutil.rmtree(dest)  # a previous export (_check_replaceable): replaced as a whole
        tmp.replace(dest)
        write_text_atomic(manifest_path(dest), text)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = ExportResult(artifact=dest, manifest_path=manifest_path(dest), manifest=manifest)
    if not allow_mismatch and manifest["status"] != "ok":
        raise_for_manifest(dest, manifest)
    return result


def _speech_export(fmt: str) -> Any:
    from edge_kit.generative.seq2seq_api import export_speech

    def export(lm: Any, dest: Path, **kwargs: Any) -> Any:
        return export_speech(lm, dest, **kwargs)

    return export


def _check_replaceable(dest: Path) -> None:
    """An existing output folder is replaced only when it holds nothing but a previous export."""
    from edge_kit.generative.seq2seq_onnx import FILES

    if dest.is_dir() and any(p.name not in FILES for p in dest.iterdir()):
        raise UsageError(
            f"output folder {dest} exists and holds other files", hint="pass a new or empty folder to -o/--output"
        )


def raise_for_manifest(dest: Path, manifest: dict[str, Any]) -> None:
    """ValidationError (exit 6): the decoder was written but its greedy tokens differ from its reference."""
    from edge_kit.errors import ValidationError

    check = manifest["validation"]
    raise ValidationError(
        f"{dest.name} does not decode like its reference: {check['matched_steps']}/{check['steps']} greedy "
        f"steps match ({check['message'] or check['status']})",
        hint="the artifact and manifest were kept; inspect them or pass --allow-mismatch",
    )


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def build_manifest(
    src: LoadedSource, artifact: GenerativeArtifact, check: GreedyCheck, target: Any, times: tuple[float, float]
) -> dict[str, Any]:
    """The generative manifest (a `GenerativeManifest` document) of a validated export."""
    from edge_kit import __version__
    from edge_kit.exporters.base import package_version
    from edge_kit.fsutil import sha256_file

    lm, layout = src.lm, artifact.layout
    runtime = {"executorch": "executorch", "onnx": "onnxruntime", "tflite": "ai-edge-litert"}[artifact.format]
    validate_s = 0.0  # export_decoder times export + validation together; the export's own time is recorded
    dists = ("torch", "transformers", "torchao", "executorch", "onnx", "onnxruntime", "litert-torch", "ai-edge-litert")
    return {
        "schema": "edgekit.generative-manifest",
        "schema_version": 1,
        "edgekit_version": __version__,
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "status": "ok" if check.status == "ok" else "mismatch",
        "artifact": {
            "file": artifact.path.name,
            "format": artifact.format,
            "runtime": runtime,
            "precision": artifact.precision,
            "sha256": _digest(artifact.path, sha256_file),
            "size_bytes": artifact.size_bytes,
            "quantization": json.loads(json.dumps(artifact.quantization, default=str)),
            "notes": list(artifact.notes),
        },
        "source": {
            "origin": lm.origin,
            "kind": src.kind,
            "family": lm.family.name,
            "model_type": str(lm.config.model_type),
            "parameters": int(sum(p.numel() for p in lm.model.parameters())),
            "tied_embeddings": bool(lm.tied_embeddings),
        },
        "target": target.summary(),
        "cache": {
            **{k: getattr(layout, k) for k in ("num_layers", "num_kv_heads", "head_dim", "cache_len", "vocab_size")},
            "max_positions": layout.max_positions,
            "max_prefill": artifact.max_prefill,
            "cache_bytes_fp32": layout.cache_bytes,
        },
        "validation": {
            "status": check.status,
            "reference": check.reference,
            "runtime": check.runtime,
            "prompt": list(check.prompt),
            "steps": check.steps,
            "matched_steps": check.matched_steps,
            "artifact_tokens": list(check.artifact_tokens),
            "reference_tokens": list(check.reference_tokens),
            "max_abs_logit_diff": _finite(check.max_abs_logit_diff),
            "forced_matches": check.forced_matches,
            "forced_max_abs_logit_diff": _finite(check.forced_max_abs_logit_diff),
            "divergence_margin": _finite(check.divergence_margin),
            "message": check.message,
            "tie_tolerance": check.tie_tolerance,
            "ties": check.ties,
        },
        "versions": {name: package_version(name) for name in dists},
        "timings_s": {
            "load_s": round(times[0], 3),
            "export_s": round(artifact.export_seconds, 3),
            "validate_s": round(max(times[1] - artifact.export_seconds, validate_s), 3),
        },
        **({"encoder": _encoder_facts(lm, artifact)} if getattr(lm, "kind", "") == "encoder-decoder" else {}),
    }


def _digest(path: Path, sha256_file: Any) -> str:
    """sha256 of a file; of a folder, sha256 over its files' names and digests (sorted)."""
    import hashlib

    if not path.is_dir():
        return str(sha256_file(path))
    lines = "".join(f"{p.name} {sha256_file(p)}\n" for p in sorted(path.iterdir()) if p.is_file())
    return hashlib.sha256(lines.encode()).hexdigest()


def _encoder_facts(lm: Any, artifact: GenerativeArtifact) -> dict[str, Any]:
    from edge_kit.generative.seq2seq_api import FEATURES_SEED

    methods = ["encoder", "text_decoder"] if artifact.format == "executorch" else ["encoder.onnx", "decoder.onnx"]
    return {
        "kind": "encoder-decoder",
        "methods": methods,
        "input_features": list(lm.features_shape),
        "encoder_hidden_states": list(lm.hidden_shape),
        "decoder_start_token_id": lm.start_token,
        "validation_features": f"seeded N(0, 0.5) float32 (numpy default_rng({FEATURES_SEED}))",
        "cross_attention": "recomputed from encoder_hidden_states at every decoder step",
    }


def manifest_text(manifest: dict[str, Any]) -> str:
    """The manifest's JSON, checked against `GenerativeManifest` as it will be read back."""
    from edge_kit.documents.generative import GenerativeManifest

    text = json.dumps(manifest, indent=2) + "\n"
    GenerativeManifest.model_validate(json.loads(text))
    return text
