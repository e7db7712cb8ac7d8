"""`edgekit profile` of a generative artifact: the generation loop on a backend, prefill and decode apart.

A decoder is recognised by its own metadata (ONNX `metadata_props["edgekit.generative"]`,
the `.pte` constant method `get_max_seq_len`, TFLite `prefill_*`/`decode` signatures). The
harness's `--generate` mode times load, time to first token and decode steps on the chosen
backend (qemu by default for ARM targets: emulated; host: measured; docker/ssh through the
same backend interface). Under QEMU two short extra runs count the instructions of one
prefill and of one decode step, and edge_kit/estimate turns each into a device estimate.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from edge_kit.generative.profile import generation_args

COUNTED_DECODE_TOKENS = 5  # decode steps marked in the counting run (after the prefill)


def decoder_metadata(path: Path) -> dict[str, int] | None:
    """{cache_len, vocab_size, max_prefill} when `path` is a generative decoder, else None (never raises)."""
    try:
        head = path.read_bytes()[:8] if path.stat().st_size < 64 else path.open("rb").read(8)
        if head[4:8] == b"ET12" or path.suffix == ".pte":
            from edge_kit.harness.harness_generate import pte_constants

            c = pte_constants(str(path))
            if "get_max_seq_len" not in c:
                return None
            return {
                "cache_len": c["get_max_seq_len"],
                "vocab_size": c.get("get_vocab_size", 0),
                "max_prefill": c.get("get_max_prefill", c["get_max_seq_len"]),
            }
        if head[4:8] == b"TFL3":
            from ai_edge_litert.interpreter import Interpreter

            sigs = Interpreter(model_path=str(path)).get_signature_list()
            if "decode" not in sigs or not any(k.startswith("prefill") for k in sigs):
                return None
            return {"cache_len": 0, "vocab_size": 0, "max_prefill": 0}  # the harness reads them at load
        import onnx

        props = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
        if "edgekit.generative" not in props:
            return None
        meta = json.loads(props["edgekit.generative"])
        return {
            "cache_len": int(meta.get("cache_len", 0)),
            "vocab_size": int(meta.get("vocab_size", 0)),
            "max_prefill": int(meta.get("max_prefill", 0)),
        }
    except Exception:  # noqa: BLE001 - not a decoder (or not readable as one): the ordinary profile decides
        return None


def _artifact(path: Path) -> dict[str, Any]:
    from edge_kit.errors import ModelLoadError
    from edge_kit.fsutil import sha256_file
    from edge_kit.manifest import manifest_path
    from edge_kit.registry import format_of_file

    fmt = format_of_file(path)
    if fmt is None:
        raise ModelLoadError(f"{path.name} is not a decoder edgekit can run")
    info: dict[str, Any] = {"path": str(path), "file": path.name, "format": fmt.name, "size_bytes": path.stat().st_size}
    info["sha256"] = sha256_file(path)
    info.update(precision=None, manifest=False, validation_status=None)
    mpath = manifest_path(path)
    if mpath.is_file():
        try:
            data = json.loads(mpath.read_text())
        except ValueError:
            data = {}
        if data.get("schema") == "edgekit.generative-manifest" and data["artifact"]["sha256"] == info["sha256"]:
            info.update(precision=data["artifact"]["precision"], manifest=True, validation_status=data["status"])
    return info


def profile_generative(
    req: Any, *, prompt_len: int = 32, new_tokens: int = 32, meta: dict[str, int] | None = None
) -> dict[str, Any]:
    """The generation profile report (a `GenerationReport` document) of `req.artifact`
    (`req`: an `edge_kit.profiler.ProfileRequest`)."""
    from edge_kit.errors import UsageError
    from edge_kit.profiler import _device
    from edge_kit.profiler.backends import get_backend
    from edge_kit.progress import step
    from edge_kit.targets import get_target

    path = Path(req.artifact)
    meta = meta or decoder_metadata(path) or {}
    cache = meta.get("cache_len") or 0
    if cache and prompt_len + new_tokens > cache:
        raise UsageError(
            f"{prompt_len} prompt + {new_tokens} new tokens exceed {path.name}'s KV cache of {cache} positions",
            hint=f"pass --prompt-len and --new-tokens adding up to at most {cache}, or export with a longer --cache-len",
        )
    device = _device(req)
    target = get_target(
        req.target or (device.target if device and device.target else None) or ("aarch64" if device else "raspi4")
    )
    backend = get_backend(
        req.backend, target, req.builder, device=device, provision=req.provision, base_image=req.base_image
    )
    threads = req.num_threads or target.resolved_cores()
    runs = max(1, min(req.num_runs, 5))  # one generation is prompt + new_tokens inferences
    artifact = {**_artifact(path), **meta}
    emulated = bool(backend.emulated)
    where = f"{target.name} via {backend.name}" + (f" ({target.qemu_cpu}, emulated)" if emulated else "")
    counting = req.count_instructions and backend.counts_instructions
    start = time.perf_counter()
    args = generation_args(prompt_len, new_tokens, runs, threads, req.warmup_runs)
    with step(f"generating {new_tokens} tokens after {prompt_len} with {path.name} on {where}"):
        run = backend.run(
            target,
            path,
            [*args, *(["--count-phase", "prefill"] if counting else [])],
            count_runs=1 if counting else 0,
            timeout_s=req.timeout_s,
        )
    decode_counts = None
    if counting:
        short = generation_args(prompt_len, COUNTED_DECODE_TOKENS + 1, 1, threads, 0)
        with step(f"counting the instructions of {COUNTED_DECODE_TOKENS} decode steps"):
            decode_counts = backend.run(
                target, path, [*short, "--count-phase", "decode"], count_runs=1, timeout_s=req.timeout_s
            ).counts
    report = assemble(req, target, artifact, backend.describe(target), run, threads, runs)
    report["harness"] = {"command": run.command, "wall_s": round(time.perf_counter() - start, 2)}
    report["estimate"] = estimate_phases(report, target, run.counts, decode_counts, req.clock_ghz)
    from edge_kit.documents.generative import GenerationReport

    GenerationReport.model_validate(json.loads(json.dumps(report, default=str)))
    return report


def assemble(
    req: Any, target: Any, artifact: dict[str, Any], backend: dict[str, Any], run: Any, threads: int, runs: int
) -> dict[str, Any]:
    """The report from the harness's --generate JSON."""
    from edge_kit import __version__

    h = run.report
    gen, mem, kind = h["generation"], h.get("memory", {}), "emulated" if backend.get("emulated") else "measured"
    ttft, dec = gen["ttft"], gen.get("decode_step") or {}
    decoder = h.get("decoder", {})
    for key, field in (("cache_len", "cache_len"), ("vocab_size", "vocab"), ("max_prefill", "max_prefill")):
        if decoder.get(field):
            artifact[key] = int(decoder[field])
    note = (
        "emulated wall time under QEMU (typically 50-400x slower than the device): see estimate for the device"
        if kind == "emulated"
        else "measured wall time on this machine"
        if not backend.get("device")
        else f"measured on the device {backend['device']}"
    )
    mean_step = float(dec.get("mean_ms", float("nan")))
    return {
        "schema": "edgekit.generation-profile",
        "schema_version": 1,
        "edgekit_version": __version__,
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "artifact": artifact,
        "target": target.summary(),
        "backend": backend,
        "settings": {
            "prompt_len": int(gen["prompt_len"]),
            "new_tokens": int(gen["new_tokens"]),
            "runs": runs,
            "warmup_runs": req.warmup_runs,
            "num_threads": threads,
        },
        "runtime": h["runtime"],
        "kind": kind,
        "note": note,
        "load_ms": float(gen["load_ms"]),
        "prefill": {
            "kind": kind,
            "prompt_len": int(gen["prompt_len"]),
            "ttft_p50_ms": float(ttft["p50_ms"]),
            "ttft_mean_ms": float(ttft["mean_ms"]),
            "ttft_min_ms": float(ttft["min_ms"]),
            "samples": int(ttft["count"]),
            "tokens_per_s": int(gen["prompt_len"]) * 1e3 / float(ttft["p50_ms"]),
            "encoder_p50_ms": float(gen["encoder"]["p50_ms"]) if gen.get("encoder") else None,
        },
        "decode": {
            "kind": kind,
            "new_tokens": int(gen["new_tokens"]),
            "ms_per_token_p50": float(dec.get("p50_ms", float("nan"))),
            "ms_per_token_mean": mean_step,
            "ms_per_token_min": float(dec.get("min_ms", float("nan"))),
            "samples": int(dec.get("count", 0)),
            "tokens_per_s": 1e3 / mean_step if mean_step > 0 else 0.0,
            "tokens": [int(t) for t in gen.get("tokens", [])],
        },
        "memory": {
            "peak_rss_kb": mem.get("peak_rss_kb"),
            "rss_loaded_kb": mem.get("rss_loaded_kb"),
            "kv_cache_host_bytes": mem.get("kv_cache_host_bytes"),
            "note": mem.get("note", "") + (" (the QEMU process)" if kind == "emulated" else ""),
        },
        "machine": h.get("machine", {}),
    }


def _phase(counts: Any, report: dict[str, Any], target: Any, clock: float | None) -> tuple[dict[str, Any], Any]:
    from edge_kit.estimate import estimate_from_report
    from edge_kit.estimate.opcost import ModelCost

    per_class = counts.per_inference
    fake = {
        "instructions": {"per_inference": per_class},
        "settings": {"num_threads": report["settings"]["num_threads"]},
        "artifact": report["artifact"],
    }
    section = estimate_from_report(fake, target, clock, ModelCost((), "size-only", report["artifact"]["size_bytes"]))
    return section, counts.per_inference_total


def estimate_phases(
    report: dict[str, Any], target: Any, prefill: Any, decode: Any, clock: float | None
) -> dict[str, Any]:
    """Device estimates of one prefill and one decode step from their instruction counts."""
    if prefill is None or decode is None or not prefill.regions or not decode.regions:
        reason = "no instruction counts (profile under QEMU with counting on)"
        return {"available": False, "reason": reason, "notes": []}
    phases, notes = {}, []
    for name, counts in (("prefill", prefill), ("decode_per_token", decode)):
        section, total = _phase(counts, report, target, clock)
        if not section.get("available"):
            return {"available": False, "reason": section.get("reason"), "notes": []}
        phases[name] = {
            "instructions": float(total),
            "estimated_ms": float(section["estimated_device_latency_ms"]),
            "low_ms": float(section["low_ms"]),
            "high_ms": float(section["high_ms"]),
            "interval_pct": float(section["interval_pct"]),
        }
        notes += [f"{name}: {n}" for n in section.get("notes", [])]
        base = section
    per_token = phases["decode_per_token"]["estimated_ms"]
    return {
        "available": True,
        "device": base.get("device"),
        "core": base.get("core"),
        "clock_ghz": base.get("clock_ghz"),
        "calibration": base.get("calibration"),
        **phases,
        "decode_tokens_per_s": 1e3 / per_token if per_token > 0 else None,
        "method": (
            f"instructions of one prefill and of one decode step (mean of {decode.regions}) counted under QEMU "
            f"on 1 thread; each phase estimated by edge_kit/estimate ({(base.get('method') or {}).get('name')}) with the file size "
            "as the weight bytes read (no per-operator analysis of a decoder): an estimate, not a measurement"
        ),
        "notes": notes,
    }
