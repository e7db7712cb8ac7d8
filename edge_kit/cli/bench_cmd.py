"""`edgekit bench MODEL --target raspi`: every format × precision, one leaderboard."""

from __future__ import annotations

from pathlib import Path

import click

from edge_kit.cli.options import devices_file_option, json_option, model_argument, model_input_options, target_option
from edge_kit.cli.output import echo, emit_json


def _split(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


@click.command()
@model_argument
@target_option
@click.option("--formats", default=None, help="Comma-separated formats (default: the target's preferred).")
@click.option(
    "--quantize",
    "precisions",
    default="fp32,fp16,int8-dynamic,int8",
    show_default=True,
    help="Comma-separated precisions.",
)
@click.option("--calibration", default=None, help=".npz/.npy, an image folder, or 'random' (int8 cells).")
@click.option(
    "--eval",
    "eval_data",
    type=click.Path(path_type=Path),
    default=None,
    help=".npz with x (and y) to measure accuracy in each runtime.",
)
@click.option(
    "--max-accuracy-drop",
    type=float,
    default=None,
    help="Passed to every export: keep layers in float until the drop holds.",
)
@click.option(
    "--budget",
    type=float,
    default=1.0,
    show_default=True,
    help="With labels in --eval: accuracy drop (points) beyond which a variant is outside the budget.",
)
@click.option(
    "--min-agreement",
    type=float,
    default=90.0,
    show_default=True,
    help="Without labels: top-1 agreement with fp32 (%) below which a variant is outside the budget "
    "(why 90: docs/quantization.md).",
)
@click.option(
    "--search-time",
    type=click.FloatRange(min=0),
    default=1800.0,
    show_default=True,
    metavar="SECONDS",
    help="Per int8 cell outside the budget: time to try the path's other recipes, then mixed precision (0: no search).",
)
@click.option(
    "--baseline/--no-baseline",
    default=True,
    show_default=True,
    help="Target host: also time the source model the usual way (torch eager, Keras, ...) beside the variants.",
)
@click.option("--num_runs", "--num-runs", "num_runs", type=click.IntRange(1, 1000), default=3, show_default=True)
@click.option("--num_threads", "--num-threads", "num_threads", type=click.IntRange(1, 64), default=None)
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=None, help="Cells in parallel (default: cores).")
@click.option("--force", is_flag=True, help="Redo finished cells instead of reusing them.")
@click.option(
    "--devices",
    default=None,
    metavar="GROUP",
    help="Also profile every cell on each device of this group (or device names, comma-separated) "
    "over SSH; one job per device at a time unless its concurrency says more.",
)
@devices_file_option
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path),
    default=Path("edgekit-bench"),
    show_default=True,
    help="Folder for cells and reports (bench.json, bench.md, bench.html).",
)
@model_input_options
@json_option
def bench(
    model: Path,
    target: str,
    formats: str | None,
    precisions: str,
    calibration: str | None,
    eval_data: Path | None,
    max_accuracy_drop: float | None,
    budget: float,
    min_agreement: float,
    search_time: float,
    baseline: bool,
    num_runs: int,
    num_threads: int | None,
    jobs: int | None,
    force: bool,
    devices: str | None,
    devices_file: Path | None,
    output: Path,
    input_shapes: list[tuple[int, ...]],
    input_dtypes: tuple[str, ...],
    input_specs: tuple[str, ...],
    dims: tuple[str, ...],
    model_class: str | None,
    trust_model: bool,
    as_json: bool,
) -> None:
    """Export MODEL to every format × precision, validate, measure and profile each; rank them.

    A causal LM (checkpoint folder, config.json, preset:NAME): executorch and onnx × fp32, int8,
    int4 (unless --formats/--quantize say otherwise), ranked by decode tokens/s."""
    from edge_kit.generative.request import is_generative

    if is_generative(model):
        from edge_kit import api
        from edge_kit.generative.bench import text as gen_text

        given = click.get_current_context().get_parameter_source("precisions") != click.core.ParameterSource.DEFAULT
        result = api.bench(
            str(model), output=output, target=target, formats=_split(formats),
            precisions=_split(precisions) if given else None, num_runs=num_runs, num_threads=num_threads,
        )  # fmt: skip
        if as_json:
            emit_json(result.board)
        else:
            echo(gen_text(result.board))
        return
    from edge_kit.benchmark import BenchRequest
    from edge_kit.benchmark import bench as run_bench
    from edge_kit.benchmark.report import text

    extra = _model_args(input_shapes, input_dtypes, input_specs, dims, model_class, trust_model)
    board = run_bench(
        BenchRequest(
            model=model,
            target=target,
            formats=_split(formats),
            precisions=_split(precisions) or [],
            output=output,
            calibration=calibration,
            eval_data=eval_data,
            max_accuracy_drop=max_accuracy_drop,
            budget=budget,
            min_agreement=min_agreement,
            search_time=search_time,
            baseline=baseline,
            export_args=extra,
            num_runs=num_runs,
            num_threads=num_threads,
            jobs=jobs,
            force=force,
            devices=devices,
            devices_file=devices_file,
        )
    )
    if as_json:
        emit_json(board)
    else:
        echo(text(board))
        echo(f"reports: {output / 'bench.md'}, {output / 'bench.html'}, {output / 'bench.json'}")


def _model_args(
    input_shapes: list[tuple[int, ...]],
    input_dtypes: tuple[str, ...],
    input_specs: tuple[str, ...],
    dims: tuple[str, ...],
    model_class: str | None,
    trust_model: bool,
) -> list[str]:
    """The model input options, back as the arguments every cell's export is given."""
    extra = [a for s in input_shapes for a in ("--input-shape", ",".join(map(str, s)))]
    extra += [a for d in input_dtypes for a in ("--input-dtype", d)]
    extra += [a for s in input_specs for a in ("--input-spec", s)] + [a for d in dims for a in ("--dim", d)]
    return extra + (["--model-class", model_class] if model_class else []) + (["--trust-model"] if trust_model else [])


@click.command("bench-session", hidden=True)
@model_argument
@click.option("--threads", type=click.IntRange(1, 64), default=1)
@click.option("--rounds", type=click.IntRange(1, 10000), default=30)
@click.option("--artifact", "artifacts", multiple=True, metavar="NAME=PATH")
@model_input_options
@json_option
def bench_session(
    model: Path,
    threads: int,
    rounds: int,
    artifacts: tuple[str, ...],
    input_shapes: list[tuple[int, ...]],
    input_dtypes: tuple[str, ...],
    input_specs: tuple[str, ...],
    dims: tuple[str, ...],
    model_class: str | None,
    trust_model: bool,
    as_json: bool,
) -> None:
    """(internal, started by bench) The source model the usual way and ARTIFACTs, interleaved on THREADS."""
    import tempfile

    from edge_kit.benchmark.session import measure
    from edge_kit.pipeline.context import ExportContext, ExportRequest
    from edge_kit.pipeline.stages import load
    from edge_kit.targets import get_target

    request = ExportRequest(
        model=model,
        input_shapes=list(input_shapes),
        input_dtypes=list(input_dtypes),
        input_specs=list(input_specs),
        dims=list(dims),
        model_class=model_class,
        trust_model=trust_model,
    )
    with tempfile.TemporaryDirectory(prefix="edgekit-session-") as work:
        ctx = ExportContext(request=request, target=get_target("host"), workdir=Path(work))
        load(ctx)
        named = dict(a.split("=", 1) for a in artifacts)
        result = measure(ctx.need_source(), {k: Path(v) for k, v in named.items()}, threads, rounds)
    emit_json(result) if as_json else echo(str(result))


def register(group: click.Group) -> None:
    group.add_command(bench)
    group.add_command(bench_session)
