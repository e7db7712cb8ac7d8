"""Profile a generative artifact: load time, time to first token, decode tokens/s, peak memory.

Runs the harness's `--generate` mode (edge_kit/harness/harness_generate.py: numpy + the
runtime, no torch) in a fresh process through a profile backend: `host` (measured natively)
or `qemu` (an emulated arm64 board: timings are emulated, 50-400x the device's).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edge_kit.generative.results import GenerationProfile


def generation_args(prompt_len: int, new_tokens: int, runs: int, threads: int, warmup: int = 1) -> list[str]:
    """Harness flags of a --generate run."""
    return [
        "--generate",
        "--prompt-len",
        str(prompt_len),
        "--new-tokens",
        str(new_tokens),
        "--num_runs",
        str(runs),
        "--warmup_runs",
        str(warmup),
        "--num_threads",
        str(threads),
    ]


def profile_from_report(report: dict[str, Any], where: str) -> GenerationProfile:
    """The typed record of a harness --generate report."""
    gen, memory = report["generation"], report.get("memory", {})
    decode = gen.get("decode_step") or {}
    per_token = float(decode.get("p50_ms", float("nan")))
    return GenerationProfile(
        runtime=f"{report['runtime']['name']} {report['runtime']['version']}",
        prompt_len=int(gen["prompt_len"]),
        new_tokens=int(gen["new_tokens"]),
        load_ms=float(gen["load_ms"]),
        ttft_ms=float(gen["ttft"]["p50_ms"]),
        decode_ms_per_token=per_token,
        decode_tokens_per_s=1e3 / per_token if per_token > 0 else float("nan"),
        peak_rss_kb=memory.get("peak_rss_kb"),
        runs=int(gen["runs"]),
        num_threads=int(report["runtime"]["num_threads"]),
        where=where,
        details={
            "ttft": gen["ttft"],
            "decode_step": decode,
            "decode_tokens_per_s_mean": gen.get("decode_tokens_per_s"),
            "memory": memory,
            "machine": report.get("machine", {}).get("machine"),
        },
    )


def profile_host(
    artifact: str | Path,
    *,
    prompt_len: int = 32,
    new_tokens: int = 32,
    runs: int = 3,
    threads: int = 1,
    backend: str = "host",
    target: str = "raspi",
    timeout_s: float = 1800.0,
) -> GenerationProfile:
    """Prefill/decode timings of `artifact` in a fresh harness process (medians over `runs`).

    backend 'host' measures natively; 'qemu' runs the same loop on the emulated `target`."""
    from edge_kit.profiler.backends import get_backend
    from edge_kit.targets import get_target

    tgt = get_target(target)
    runner = get_backend(backend, tgt)
    run = runner.run(
        tgt,
        Path(artifact),
        generation_args(prompt_len, new_tokens, runs, threads),
        count_runs=0,
        timeout_s=timeout_s,
    )
    where = "host (measured)" if backend == "host" else f"{tgt.name} via {backend} (emulated: not device time)"
    return profile_from_report(run.report, where)
