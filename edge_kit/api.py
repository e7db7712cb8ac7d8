"""edgekit's public Python API: the same four verbs as the command line, on paths or live models.

    import torch, edge_kit
    result = edge_kit.export(model.eval(), example_inputs=(torch.rand(1, 3, 32, 32),),
                             format="onnx", output="m.onnx")
    report = edge_kit.profile(result.artifact, target="raspi")
    board = edge_kit.bench("model.pt2", target="raspi", output="out/bench")
    bundle = edge_kit.package(result.artifact, platform="android")

Each takes the options of its CLI command as keyword arguments (Python names: `quantize` for
--quantize, `eval_data` for --eval ...) and returns a typed result. The CLI is a thin layer over
exactly these functions. Failures raise `edge_kit.errors.EdgeKitError` subclasses.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from edge_kit.errors import UsageError
from edge_kit.pipeline.context import ExportRequest, ExportResult

__all__ = ["BenchResult", "ExportResult", "ProfileResult", "bench", "export", "package", "profile"]


def _request(cls: type, what: str, values: dict[str, Any]) -> Any:
    """`cls(**values)`, an unknown option named in one line with the ones that exist."""
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise UsageError(
            f"{what}() got unknown option(s) {', '.join(unknown)}", hint=f"known: {', '.join(sorted(known))}"
        )
    return cls(**values)


def export(
    model: Any,
    *,
    format: str | None = None,
    target: str = "host",
    quantize: str | None = None,
    output: str | Path | None = None,
    example_inputs: Any = None,
    allow_mismatch: bool = False,
    **options: Any,
) -> ExportResult:
    """Export `model` (a file path, or a live torch.nn.Module / ExportedProgram / keras.Model /
    onnx.ModelProto) and prove the artifact matches it; returns the artifact path and manifest.

    A causal LM (a checkpoint folder, a config.json or `preset:NAME` with seeded random weights,
    a live transformers causal LM) is exported with a static KV cache (`cache_len`, default
    128; `quantize` fp32/int8/int4) and validated by 8 greedy steps in its runtime
    (`edge_kit.generative.request.export_generative`; docs/generative.md).

    Live torch modules need `example_inputs` (a tuple of tensors: they define the signature);
    live models need `output`. Other options: see `edgekit export --help` (`input_shapes`,
    `recipe`, `calibration`, `eval_data`, `max_accuracy_drop`, `route`, ...). An artifact outside
    tolerance (or over its accuracy budget) is written and then raises ValidationError, unless
    `allow_mismatch`.
    """
    from edge_kit.generative.request import is_generative

    if is_generative(model):  # a causal LM: exported with a static KV cache, validated by greedy decoding
        from edge_kit.generative.request import export_generative

        return export_generative(  # type: ignore[no-any-return]
            model, format=format, target=target, quantize=quantize, output=output, allow_mismatch=allow_mismatch,
            **options,
        )  # fmt: skip
    from edge_kit.pipeline import export as run

    if example_inputs is not None and not isinstance(example_inputs, (tuple, list)):
        example_inputs = (example_inputs,)
    values = {"model": model if not isinstance(model, str) else Path(model), "format": format, "target": target}
    values |= {"precision": quantize, "output": Path(output) if output is not None else None}
    result = run(_request(ExportRequest, "export", {**values, "example_inputs": example_inputs, **options}))
    if not allow_mismatch:
        result.raise_for_status()
    return result


@dataclass
class ProfileResult:
    """A profile report (`edgekit profile --json`), with its main figures as attributes."""

    report: dict[str, Any]

    @property
    def latency_ms(self) -> float:
        """Median latency of the timed runs (emulated, or measured: see `latency['kind']`)."""
        return float(self.report["latency"]["p50_ms"])

    @property
    def latency(self) -> dict[str, Any]:
        return dict(self.report["latency"])

    @property
    def ttft_ms(self) -> float:
        """Generative decoders: median time to first token (prefill of the prompt)."""
        return float(self.report["prefill"]["ttft_p50_ms"])

    @property
    def decode_tokens_per_s(self) -> float:
        """Generative decoders: decode speed (from the mean step time; emulated or measured: see `kind`)."""
        return float(self.report["decode"]["tokens_per_s"])

    @property
    def estimate(self) -> dict[str, Any] | None:
        """The device-latency estimate (with how it was derived), when there is one."""
        return self.report.get("estimate")

    def write(self, folder: str | Path) -> Path:
        """profile.json, profile.md and profile.html into `folder`."""
        from edge_kit.profiler.report import write_report_dir

        return write_report_dir(self.report, Path(folder))


def profile(artifact: str | Path, **options: Any) -> ProfileResult:
    """Profile an exported artifact on a target (emulated by default) or a device; see `edgekit profile --help`."""
    from edge_kit.profiler import ProfileRequest
    from edge_kit.profiler import profile as run

    return ProfileResult(run(_request(ProfileRequest, "profile", {"artifact": Path(artifact), **options})))


@dataclass
class BenchResult:
    """A bench leaderboard (`bench.json`), written with its reports under `folder`."""

    board: dict[str, Any]
    folder: Path

    @property
    def recommendation(self) -> dict[str, Any] | None:
        return self.board.get("recommendation")

    @property
    def rows(self) -> list[dict[str, Any]]:
        return list(self.board.get("rows", []))


def bench(model: str | Path, *, output: str | Path = "edgekit-bench", **options: Any) -> BenchResult:
    """Every format × precision of `model`, validated, measured and ranked; see `edgekit bench --help`.

    A causal LM (see `export`) is ranked by decode tokens/s (edge_kit/generative/bench.py)."""
    from edge_kit.generative.request import is_generative

    if is_generative(model):
        from edge_kit.generative.bench import bench_generative

        return BenchResult(bench_generative(model, output=Path(output), **options), Path(output))
    from edge_kit.benchmark import BenchRequest
    from edge_kit.benchmark import bench as run

    req = _request(BenchRequest, "bench", {"model": Path(model), "output": Path(output), **options})
    return BenchResult(run(req), Path(output))


def package(artifact: str | Path, platform: str, **options: Any) -> Any:
    """Bundle an exported artifact for android, ios or linux; see `edgekit package --help`.
    Returns an `edge_kit.packager.PackageResult`."""
    from edge_kit.packager import PackageRequest
    from edge_kit.packager import package as run

    return run(_request(PackageRequest, "package", {"artifact": Path(artifact), "platform": platform, **options}))
