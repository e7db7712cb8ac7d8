"""`edgekit profile ARTIFACT --target raspi`: latency, memory, per-op and instruction counts."""

from __future__ import annotations

from pathlib import Path

import click

from edge_kit.cli.options import devices_file_option, json_option, target_option
from edge_kit.cli.output import echo, emit_json


@click.command()
@click.argument("artifact", type=click.Path(path_type=Path))
@target_option
@click.option(
    "--backend",
    type=click.Choice(["qemu", "docker", "host", "ssh"]),
    default=None,
    help="qemu (default for ARM targets), docker (buildx, needs an engine), host, or ssh (a real "
    "device; the default with --device).",
)
@click.option(
    "--builder",
    default=None,
    help="docker: run the profile in the build on this buildx builder (e.g. a native arm64 node).",
)
@click.option(
    "--base-image",
    default=None,
    metavar="IMAGE",
    help="docker: build the profiling image on this local linux/arm64 image (python3.11 + numpy + runtimes) "
    "instead of edgekit's own arm64 root filesystem.",
)
@click.option(
    "--device",
    default=None,
    metavar="NAME|user@host[:port]",
    help="Profile on this device over SSH (a name from the devices inventory, or an address).",
)
@click.option(
    "--provision",
    is_flag=True,
    help="ssh: install the pinned runtimes into ~/.cache/edgekit-device on the device when missing.",
)
@devices_file_option
@click.option(
    "--num_threads",
    "--num-threads",
    "num_threads",
    type=click.IntRange(1, 64),
    default=None,
    help="Threads for the runtime (default: the target's cores).",
)
@click.option(
    "--warmup_runs", "--warmup-runs", "warmup_runs", type=click.IntRange(0, 1000), default=1, show_default=True
)
@click.option("--num_runs", "--num-runs", "num_runs", type=click.IntRange(1, 100000), default=10, show_default=True)
@click.option(
    "--max_secs",
    "--max-secs",
    "max_secs",
    type=click.FloatRange(0.1),
    default=150.0,
    show_default=True,
    help="Stop the timed runs after this long.",
)
@click.option(
    "--input",
    "input_path",
    type=click.Path(path_type=Path),
    default=None,
    help=".npz with real inputs (default: random, seed 0).",
)
@click.option(
    "--count-runs",
    type=click.IntRange(1, 100),
    default=2,
    show_default=True,
    help="Inferences counted by the instruction-counting plugin (qemu).",
)
@click.option(
    "--count-threads",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Threads during counting (1 = exact, repeatable work; more adds spin-wait noise).",
)
@click.option("--no-count", is_flag=True, help="Skip instruction counting (and the device estimate).")
@click.option("--no-profile-ops", is_flag=True, help="Skip the per-operator breakdown.")
@click.option(
    "--clock-ghz",
    type=click.FloatRange(0.1, 10.0),
    default=None,
    help="Device clock for the estimate (default: the target's).",
)
@click.option(
    "--timeout",
    "timeout_s",
    type=click.FloatRange(1.0),
    default=600.0,
    show_default=True,
    help="Kill the run after this many seconds.",
)
@click.option(
    "--report",
    "-o",
    "--output",
    "report_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Write profile.json, profile.md and profile.html into this folder.",
)
@click.option(
    "--prompt-len",
    type=click.IntRange(1, 1 << 20),
    default=32,
    show_default=True,
    help="Generative decoders: prompt tokens (prefill; time to first token).",
)
@click.option(
    "--new-tokens",
    type=click.IntRange(1, 1 << 20),
    default=32,
    show_default=True,
    help="Generative decoders: tokens generated one at a time (decode tokens/s).",
)
@json_option
def profile(
    artifact: Path,
    target: str | None,
    backend: str | None,
    builder: str | None,
    base_image: str | None,
    device: str | None,
    provision: bool,
    devices_file: Path | None,
    num_threads: int | None,
    warmup_runs: int,
    num_runs: int,
    max_secs: float,
    input_path: Path | None,
    count_runs: int,
    count_threads: int,
    no_count: bool,
    no_profile_ops: bool,
    clock_ghz: float | None,
    timeout_s: float,
    report_dir: Path | None,
    prompt_len: int,
    new_tokens: int,
    as_json: bool,
) -> None:
    """Profile an exported ARTIFACT (.tflite, .onnx, .pte) on a target, or on a real device over SSH.

    A generative decoder (edgekit export of a causal LM) runs its generation loop: load time,
    time to first token for --prompt-len tokens, decode tokens/s, peak memory (KV cache
    included), and under QEMU a device estimate of prefill and decode from instruction counts."""
    from edge_kit.fsutil import check_writable
    from edge_kit.profiler import ProfileRequest
    from edge_kit.profiler import profile as run_profile
    from edge_kit.profiler.report import summary_text, write_report_dir

    if report_dir is not None:
        check_writable(report_dir, directory=True)
    default = click.core.ParameterSource.DEFAULT
    if device is not None and click.get_current_context().get_parameter_source("target") is default:
        target = None  # the device's own target (from the inventory)
    report = run_profile(
        ProfileRequest(
            artifact=artifact,
            target=target,
            backend=backend,
            builder=builder,
            base_image=base_image,
            device=device,
            provision=provision,
            devices_file=devices_file,
            num_threads=num_threads,
            warmup_runs=warmup_runs,
            num_runs=num_runs,
            max_secs=max_secs,
            input=input_path,
            count_instructions=not no_count,
            count_runs=count_runs,
            count_threads=count_threads,
            profile_ops=not no_profile_ops,
            clock_ghz=clock_ghz,
            timeout_s=timeout_s,
            prompt_len=prompt_len,
            new_tokens=new_tokens,
        )
    )
    if report_dir is not None:
        write_report_dir(report, report_dir)
    if as_json:
        emit_json(report)
    else:
        echo(summary_text(report))


def register(group: click.Group) -> None:
    group.add_command(profile)
