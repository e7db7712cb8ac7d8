"""`edgekit profile` as a library call: latency, memory, per-op and instruction counts on a target.

Emulated wall time is labelled as emulated and never passed off as device latency;
the device figure is an estimate from instruction counts (`edge_kit.estimate`).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edge_kit import __version__, progress
from edge_kit.documents.profile import SCHEMA, SCHEMA_VERSION
from edge_kit.errors import ManifestError, UnsupportedError, UsageError
from edge_kit.fsutil import sha256_file
from edge_kit.models.sniff import sniff
from edge_kit.profiler.backends import HarnessRun, get_backend
from edge_kit.targets import Target, get_target

if TYPE_CHECKING:
    from edge_kit.exporters.base import Format


@dataclass
class ProfileRequest:
    """What to profile, where, and how (flags follow TFLite's benchmark_model)."""

    artifact: Path
    target: str | None = None  # default: the device's target (ssh), else raspi4
    backend: str | None = None  # qemu | docker | host | ssh (default: ssh with a device, qemu for ARM targets)
    num_threads: int | None = None  # default: the target's core count
    warmup_runs: int = 1
    num_runs: int = 10
    max_secs: float = 150.0
    input: Path | None = None
    profile_ops: bool = True
    count_instructions: bool = True
    count_runs: int = 2
    count_threads: int = 1  # instructions are counted on one thread: the exact, repeatable work
    timeout_s: float = 600.0
    clock_ghz: float | None = None
    builder: str | None = None  # docker: a buildx builder that runs the profile in its build
    base_image: str | None = None  # docker: the user's own linux/arm64 image (python3.11 + runtimes) as the base
    device: str | None = None  # ssh: an inventory name or user@host[:port]
    provision: bool = False  # ssh: install the pinned runtimes into a private folder on the device
    devices_file: Path | None = None  # default: $EDGEKIT_DEVICES, else ~/.config/edgekit/devices.toml
    prompt_len: int = 32  # generative decoders: prompt tokens (prefill)
    new_tokens: int = 32  # generative decoders: tokens generated (decode)


def artifact_format(path: Path) -> Format:
    """The format of an artifact to profile, from its bytes (never its name)."""
    from edge_kit.registry import format_of_file, formats

    kind = sniff(path)  # a missing, empty or unrecognisable file is one clear error
    fmt = format_of_file(path)
    if fmt is None or fmt.harness_runtime is None:
        profilable = ", ".join(f.suffix for f in formats().values() if f.harness_runtime)
        raise UnsupportedError(
            f"cannot profile a {kind.value} file ({path.name})", hint=f"profile an exported {profilable} artifact"
        )
    fmt.check_artifact(path)
    return fmt


def _artifact(path: Path) -> dict[str, Any]:
    """What the artifact is (by content) and what its manifest says, if it has one."""
    from edge_kit.manifest import read_manifest

    fmt = artifact_format(path)
    info: dict[str, Any] = {
        "path": str(path),
        "file": path.name,
        "format": fmt.name,
        "runtime": fmt.harness_runtime,
        "size_bytes": path.stat().st_size,
        "sha256": sha256_file(path),
    }
    try:
        manifest = read_manifest(path)
        info.update(
            precision=manifest["artifact"].get("precision"),
            manifest=True,
            validation_status=manifest.get("status"),
            inputs=manifest.get("inputs"),
            source_inputs=manifest.get("source_inputs"),
        )
    except ManifestError as exc:
        info.update(precision=None, manifest=False)
        if "no longer matches" in exc.message:
            progress.warn(exc.one_line())
    return info


def _manifest_inputs(artifact: dict[str, Any], folder: Path) -> Path | None:
    """Inputs as the export knew them (its concrete sizes, token ids in the vocabulary, masks,
    constants such as a sample rate) when the artifact alone cannot say: it declares dynamic
    dims, or an input takes values random numbers would break."""
    from dataclasses import replace

    from edge_kit.signature import TensorSpec, random_inputs

    specs, concrete = artifact.get("inputs") or [], artifact.get("source_inputs") or []
    if len(concrete) != len(specs):
        return None
    sources = [TensorSpec.from_dict(c) for c in concrete]
    if not any(None in s["shape"] for s in specs) and all(s.kind == "data" for s in sources):
        return None
    shaped = [replace(c, name=s["name"], dtype=s["dtype"]) for s, c in zip(specs, sources)]
    path = folder / "inputs.npz"
    np.savez(path, **{s.name: a for s, a in zip(shaped, random_inputs(shaped, 1, seed=0)[0])})
    return path


def harness_args(req: ProfileRequest, threads: int, inputs: Path | None = None) -> list[str]:
    args = [
        "--num_threads",
        str(threads),
        "--warmup_runs",
        str(req.warmup_runs),
        "--num_runs",
        str(req.num_runs),
        "--max_secs",
        str(req.max_secs),
        "--count-runs",
        "0",
    ]
    inputs = Path(req.input) if req.input is not None else inputs
    if inputs is not None:
        args += ["--input", str(inputs.resolve())]
    if req.profile_ops:
        args.append("--profile-ops")
    return args


def profile(req: ProfileRequest) -> dict[str, Any]:
    """Run the harness on the target and assemble the schema-versioned profile report.

    A generative decoder (known by its metadata) is profiled as a generation loop instead:
    a `GenerationReport` with prefill and decode apart (edge_kit/generative/profile_report.py)."""
    from edge_kit.generative.profile_report import decoder_metadata, profile_generative

    path = Path(req.artifact)
    if path.is_dir() and (path / "encoder.onnx").is_file() and (path / "decoder.onnx").is_file():
        from edge_kit.errors import UnsupportedError

        raise UnsupportedError(
            f"{path.name} is an encoder-decoder ONNX folder: `edgekit profile` takes its .pte export for now",
            hint="export it with --format executorch, or time the folder with "
            "edge_kit.generative.runtime.open_speech_decoder (docs/generative.md)",
        )
    meta = decoder_metadata(path) if path.is_file() else None
    if meta is not None:
        return profile_generative(req, prompt_len=req.prompt_len, new_tokens=req.new_tokens, meta=meta)
    device = _device(req)
    target = get_target(
        req.target or (device.target if device and device.target else None) or ("aarch64" if device else "raspi4")
    )
    artifact = _artifact(Path(req.artifact))
    backend = get_backend(
        req.backend, target, req.builder, device=device, provision=req.provision, base_image=req.base_image
    )
    threads = req.num_threads or target.resolved_cores()
    count_runs = req.count_runs if (req.count_instructions and backend.counts_instructions) else 0
    where = f"{target.name} via {backend.name}" + (
        f" ({target.qemu_cpu}, emulated)" if backend.emulated else f" ({device.name})" if device else ""
    )
    start = time.perf_counter()
    with (
        progress.step(f"profiling {artifact['file']} on {where}"),
        tempfile.TemporaryDirectory(prefix="edgekit-inputs-") as tmp,
    ):
        args = [*harness_args(req, threads, _manifest_inputs(artifact, Path(tmp))), "--runtime", artifact["runtime"]]
        run = backend.run(
            target,
            Path(req.artifact),
            args,
            count_runs=count_runs,
            timeout_s=req.timeout_s,
            count_threads=req.count_threads,
        )
    report = assemble(req, target, artifact, backend.describe(target), run, threads, time.perf_counter() - start)
    report["estimate"] = _estimate(report, target, req.clock_ghz)
    return report


def _device(req: ProfileRequest) -> Any:
    """The ssh backend's device (an `edge_kit.devices.Device`), or None for the other backends."""
    if req.device is None:
        if req.backend == "ssh" or req.provision:
            raise UsageError(
                f"{'--provision' if req.provision else 'the ssh backend'} needs a device",
                hint="pass --device NAME or --device user@host[:port]",
            )
        return None
    from edge_kit.devices import load_inventory

    return load_inventory(req.devices_file).device(req.device)


def assemble(
    req: ProfileRequest,
    target: Target,
    artifact: dict[str, Any],
    backend: dict[str, Any],
    run: HarnessRun,
    threads: int,
    wall_s: float,
) -> dict[str, Any]:
    """The profile report from the harness's JSON and the instruction counts."""
    from edge_kit.manifest import new_manifest

    h = run.report
    timing = h["timing"]
    kind = "emulated" if backend.get("emulated") else "measured"
    latency = {
        "kind": kind,
        "note": _latency_note(kind, backend),
        "load_ms": timing["load_ms"],
        "first_inference_ms": timing["first_inference_ms"],
        **timing["runs"],
        "samples_ms": timing["latencies_ms"],
        "stopped_by": timing.get("stopped_by"),
    }
    report = new_manifest(
        artifact=artifact,
        target=target.summary(),
        backend=backend,
        settings={
            "num_threads": threads,
            "warmup_runs": req.warmup_runs,
            "num_runs": req.num_runs,
            "max_secs": req.max_secs,
            "input": str(req.input) if req.input else "random (seed 0)",
            "count_runs": run.counts.regions if run.counts else 0,
            "count_threads": req.count_threads if run.counts else None,
        },
        runtime=h["runtime"],
        latency=latency,
        memory=h["memory"],
        ops=h["ops"],
        inputs=h["inputs"],
        outputs=h["outputs"],
        machine=h["machine"],
        instructions=_instructions(run.counts),
        harness={"command": run.command, "wall_s": round(wall_s, 2)},
    )
    report["schema"], report["schema_version"] = SCHEMA, SCHEMA_VERSION
    return report


def _latency_note(kind: str, backend: dict[str, Any]) -> str:
    if kind == "emulated":
        return "emulated wall time under QEMU (typically 50-400x slower than the device); see estimate for the device"
    if backend.get("device"):
        return f"measured wall time on the device {backend['device']} ({backend.get('address')})"
    return "measured wall time on this machine"


def _instructions(counts: Any) -> dict[str, Any] | None:
    if counts is None:
        return None
    return {
        **counts.summary(),
        "per_thread": counts.per_thread_per_inference,
        "classes_doc": "instruction classes: edge_kit/emulation/insncounts.py",
    }


def _estimate(report: dict[str, Any], target: Target, clock_ghz: float | None) -> dict[str, Any] | None:
    """The device-latency estimate from the instruction counts (None when nothing was counted)."""
    import importlib.util

    if report["instructions"] is None or importlib.util.find_spec("edge_kit.estimate") is None:
        return None
    from edge_kit.estimate import estimate_from_report

    return estimate_from_report(report, target, clock_ghz)


__all__ = ["ProfileRequest", "__version__", "profile"]
