"""`edgekit export MODEL --target raspi`: convert, validate, write artifact + manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from edge_kit.cli.options import (
    PRECISION_CHOICES,
    json_option,
    model_argument,
    model_input_options,
    output_option,
    quantization_options,
    target_option,
)
from edge_kit.cli.output import emit_json


@click.command()
@model_argument
@target_option
@click.option(
    "--format",
    "-f",
    "fmt",
    default=None,
    metavar="FORMAT",
    help="tflite | onnx | executorch | ptl (default: the target's preferred format; a decoder: -o's suffix).",
)
@click.option(
    "--quantize",
    "precision",
    type=click.Choice((*PRECISION_CHOICES, "int4")),
    default=None,
    help="Precision of the artifact (default: the --recipe's, else fp32; int4: generative decoders).",
)
@click.option(
    "--cache-len",
    type=click.IntRange(2, 1 << 20),
    default=None,
    help="Generative decoders (a checkpoint folder, config.json or preset:NAME): KV-cache positions (default 128).",
)
@quantization_options
@output_option
@model_input_options
@click.option("--opset", type=int, default=None, help="ONNX opset (default 18).")
@click.option(
    "--onnx-exporter",
    type=click.Choice(["dynamo", "legacy"]),
    default="dynamo",
    show_default=True,
    help="torch.onnx exporter (legacy = --route torch-onnx-legacy).",
)
@click.option(
    "--route",
    default=None,
    metavar="NAME",
    help="Use only this conversion route (see `edgekit routes`; default: try them in order).",
)
@click.option("--portable", is_flag=True, help="ExecuTorch: portable kernels only, no XNNPACK delegate.")
@click.option(
    "--sample-inputs",
    type=click.Path(path_type=Path),
    default=None,
    help=".npz/.npy of real inputs for validation (default: the --eval inputs, else the "
    "calibration inputs, else random within --input-range).",
)
@click.option(
    "--num-samples",
    type=click.IntRange(1, 10000),
    default=10,
    show_default=True,
    help="Inputs compared during validation.",
)
@click.option(
    "--input-range",
    nargs=2,
    type=float,
    default=(0.0, 1.0),
    show_default=True,
    help="Range of random validation inputs.",
)
@click.option(
    "--allow-mismatch", is_flag=True, help="Exit 0 even when validation is outside tolerance (it is still recorded)."
)
@json_option
def export(
    model: Path,
    target: str,
    fmt: str | None,
    precision: str,
    cache_len: int | None,
    output: Path | None,
    input_shapes: list[tuple[int, ...]],
    input_dtypes: tuple[str, ...],
    input_specs: tuple[str, ...],
    dims: tuple[str, ...],
    model_class: str | None,
    trust_model: bool,
    opset: int | None,
    onnx_exporter: str,
    route: str | None,
    portable: bool,
    sample_inputs: Path | None,
    num_samples: int,
    input_range: tuple[float, float],
    allow_mismatch: bool,
    as_json: bool,
    recipe: str | None,
    calibration: str | None,
    calibration_samples: int | None,
    eval_data: Path | None,
    max_accuracy_drop: float | None,
    **preprocess: Any,
) -> None:
    """Export MODEL for a target and prove the artifact matches it (quantized: measure what it costs).

    MODEL may be a causal LM: a checkpoint folder (config.json + safetensors), a config.json or
    preset:NAME (seeded random weights; e.g. preset:llama-small), exported with a static KV cache
    and validated by 8 greedy steps in its runtime."""
    from edge_kit import api
    from edge_kit.generative.request import is_generative

    if is_generative(model):
        gen = api.export(
            str(model), target=target, format=fmt, quantize=precision, output=output, allow_mismatch=True,
            cache_len=cache_len or 128, trust_model=trust_model,
        )  # fmt: skip
        if as_json:
            emit_json(gen.manifest)
        if not allow_mismatch and gen.status != "ok":
            from edge_kit.generative.request import raise_for_manifest

            raise_for_manifest(gen.artifact, gen.manifest)
        return
    if cache_len is not None:
        from edge_kit.errors import UsageError

        raise UsageError(
            "--cache-len applies to generative decoders only",
            hint="pass a checkpoint folder, a config.json or preset:NAME, or drop --cache-len",
        )
    result = api.export(
        model,
        target=target,
        format=fmt,
        quantize=precision,
        output=output,
        allow_mismatch=True,
        input_shapes=list(input_shapes),
        input_dtypes=list(input_dtypes),
        input_specs=list(input_specs),
        dims=list(dims),
        model_class=model_class,
        trust_model=trust_model,
        route=route or ("torch-onnx-legacy" if onnx_exporter == "legacy" else None),
        opset=opset,
        portable=portable,
        sample_inputs=sample_inputs,
        num_samples=num_samples,
        input_range=input_range,
        recipe=recipe,
        calibration=calibration,
        calibration_samples=calibration_samples,
        preprocess=preprocess,
        eval_data=eval_data,
        max_accuracy_drop=max_accuracy_drop,
    )
    if as_json:
        emit_json(result.manifest)
    if not allow_mismatch or result.status == "over_budget":
        result.raise_for_status()


def register(group: click.Group) -> None:
    group.add_command(export)
