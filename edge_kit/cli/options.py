"""Options shared by several commands, defined once and stacked as decorators."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from edge_kit.signature import parse_shape

PRECISION_CHOICES = ("fp32", "fp16", "int8-dynamic", "int8")
F = Callable[..., Any]


def _shapes(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> list[tuple[int, ...]]:
    from edge_kit.errors import UsageError

    try:
        return [parse_shape(v) for v in values]
    except UsageError as exc:
        raise click.BadParameter(exc.one_line()) from None


def stack(*decorators: F) -> F:
    def apply(fn: F) -> F:
        for decorator in reversed(decorators):
            fn = decorator(fn)
        return fn
    return apply


json_option = click.option("--json", "as_json", is_flag=True,
                           help="Print one JSON document on stdout (logs stay on stderr).")
target_option = click.option("--target", "-t", default="host", show_default=True, metavar="NAME",
                             help="Deployment target (see `edgekit targets`).")
output_option = click.option("--output", "-o", type=click.Path(path_type=Path), default=None,
                             help="Exactly the path written.")
model_argument = click.argument("model", type=click.Path(path_type=Path))

model_input_options = stack(
    click.option("--input-shape", "input_shapes", multiple=True, callback=_shapes, metavar="1,3,224,224",
                 help="Input shape when the model declares none (repeat per input)."),
    click.option("--input-dtype", "input_dtypes", multiple=True, metavar="DTYPE",
                 help="Input dtype (default float32; repeat per input)."),
    click.option("--model-class", default=None, metavar="module:Factory",
                 help="Builds the architecture for a state_dict .pt (weights load with weights_only=True)."),
    click.option("--trust-model", is_flag=True,
                 help="Allow model files that run code when loaded (full pickles, Keras Lambda layers)."),
)
