"""Options shared by several commands, defined once and stacked as decorators."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

PRECISION_CHOICES = ("fp32", "fp16", "int8-dynamic", "int8")
F = Callable[..., Any]


def _shapes(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> list[tuple[int, ...]]:
    from edge_kit.errors import UsageError

    try:
        from edge_kit.signature import parse_shape  # numpy: imported only when the option is used

        return [parse_shape(v) for v in values]
    except UsageError as exc:
        raise click.BadParameter(exc.one_line()) from None


def stack(*decorators: F) -> F:
    def apply(fn: F) -> F:
        for decorator in reversed(decorators):
            fn = decorator(fn)
        return fn

    return apply


json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON document on stdout (logs stay on stderr)."
)
target_option = click.option(
    "--target",
    "-t",
    default="host",
    show_default=True,
    metavar="NAME",
    help="Deployment target (see `edgekit targets`).",
)
output_option = click.option(
    "--output", "-o", type=click.Path(path_type=Path), default=None, help="Exactly the path written."
)
model_argument = click.argument("model", type=click.Path(path_type=Path))

model_input_options = stack(
    click.option(
        "--input-shape",
        "input_shapes",
        multiple=True,
        callback=_shapes,
        metavar="1,3,224,224",
        help="Input shape when the model declares none (repeat per input).",
    ),
    click.option(
        "--input-spec",
        "input_specs",
        multiple=True,
        metavar="KEY=SHAPE[:DTYPE][:VALUES]",
        help="One input by name or position: shape (empty for a scalar; names for dynamic dims), dtype, values "
        "(tokens, tokens<N, mask, LOW..HIGH, or a constant), e.g. sr=:int64:16000 (repeat per input).",
    ),
    click.option(
        "--dim",
        "dims",
        multiple=True,
        metavar="NAME=N|NAME=MIN..MAX",
        help="Fix a dynamic dimension (seq=64) or keep it dynamic within bounds (seq=8..128).",
    ),
    click.option(
        "--input-dtype",
        "input_dtypes",
        multiple=True,
        metavar="DTYPE",
        help="Input dtype (default float32; repeat per input).",
    ),
    click.option(
        "--model-class",
        default=None,
        metavar="module:Factory",
        help="Builds the architecture for a state_dict .pt (weights load with weights_only=True).",
    ),
    click.option(
        "--trust-model",
        is_flag=True,
        help="Allow model files that run code when loaded (full pickles, Keras Lambda layers).",
    ),
)


def parse_floats(_ctx: click.Context, _param: click.Parameter, value: str | None) -> tuple[float, ...] | None:
    """click callback: '0.485,0.456,0.406' -> (0.485, 0.456, 0.406)."""
    if value is None:
        return None
    try:
        return tuple(float(v) for v in value.split(",") if v.strip())
    except ValueError:
        raise click.BadParameter(f"expected comma-separated numbers, e.g. 0.485,0.456,0.406, got '{value}'") from None


quantization_options = stack(
    click.option(
        "--recipe",
        default=None,
        metavar="NAME",
        help="Quantization recipe (see `edgekit recipes`; default: the path's default).",
    ),
    click.option(
        "--calibration",
        default=None,
        metavar="PATH|random",
        help="Static int8 calibration: a .npz/.npy of inputs, a folder of images, or 'random'.",
    ),
    click.option(
        "--calibration-samples",
        type=click.IntRange(1, 100000),
        default=None,
        help="Calibration samples to use (default: the recipe's, 200).",
    ),
    click.option(
        "--mean",
        callback=parse_floats,
        default=None,
        metavar="0.485,0.456,0.406",
        help="Image calibration: per-channel mean subtracted after --scale.",
    ),
    click.option(
        "--std",
        callback=parse_floats,
        default=None,
        metavar="0.229,0.224,0.225",
        help="Image calibration: per-channel std divided by.",
    ),
    click.option("--scale", type=float, default=None, help="Image calibration: pixel multiplier (default 1/255)."),
    click.option(
        "--resize",
        type=click.IntRange(0),
        default=None,
        help="Image calibration: shorter side before the centre crop (default: the input size).",
    ),
    click.option(
        "--layout",
        type=click.Choice(["auto", "NCHW", "NHWC"]),
        default=None,
        help="Image calibration: layout of the input (default: the model's).",
    ),
    click.option(
        "--color",
        type=click.Choice(["auto", "rgb", "gray"]),
        default=None,
        help="Image calibration: colour mode (default: from the channel count).",
    ),
    click.option(
        "--eval",
        "eval_data",
        type=click.Path(path_type=Path),
        default=None,
        help=".npz with x (and labels y): report source vs artifact accuracy and the drop.",
    ),
    click.option(
        "--max-accuracy-drop",
        type=click.FloatRange(0.0),
        default=None,
        metavar="POINTS",
        help="Keep the most sensitive layers in float until the drop fits (needs --eval).",
    ),
)

devices_file_option = click.option(
    "--devices-file",
    type=click.Path(path_type=Path),
    default=None,
    metavar="PATH",
    help="Devices inventory (default: $EDGEKIT_DEVICES, else ~/.config/edgekit/devices.toml).",
)
