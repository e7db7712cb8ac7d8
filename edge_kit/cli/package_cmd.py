"""`edgekit package ARTIFACT --platform android|ios|linux`: a drop-in bundle for an app or a board."""

from __future__ import annotations

from pathlib import Path

import click

from edge_kit.cli.options import json_option, output_option, parse_floats
from edge_kit.cli.output import emit_json

PLATFORM_CHOICES = ("android", "ios", "linux")


@click.command()
@click.argument("artifact", type=click.Path(path_type=Path))
@click.option(
    "--platform",
    "-p",
    "platform",
    type=click.Choice(PLATFORM_CHOICES),
    required=True,
    help="android: .aar + Kotlin wrapper | ios: .zip folder for Xcode | linux: .tar.gz with a "
    "wheel and a linux/arm64 Dockerfile.",
)
@output_option
@click.option(
    "--labels",
    type=click.Path(path_type=Path),
    default=None,
    help="Text file, one class name per line in output order (its length must match the output).",
)
@click.option(
    "--name",
    default=None,
    metavar="NAME",
    help="Bundle name: asset names, DigitsModel class, digits_model package (default: from the file name).",
)
@click.option(
    "--bundle-version",
    "version",
    default="1.0.0",
    show_default=True,
    help="Version of the bundle (wheel version, Info.plist, metadata).",
)
@click.option(
    "--mean",
    callback=parse_floats,
    default=None,
    metavar="0.485,0.456,0.406",
    help="Normalization recorded for the app: per-channel mean subtracted after --scale.",
)
@click.option(
    "--std",
    callback=parse_floats,
    default=None,
    metavar="0.229,0.224,0.225",
    help="Normalization: per-channel std divided by.",
)
@click.option(
    "--scale", type=float, default=None, help="Normalization: raw-value multiplier, e.g. 0.00392156862745098 (1/255)."
)
@click.option(
    "--verify-on",
    default=None,
    metavar="TARGET",
    help="linux: install the wheel in this emulated board (e.g. raspi) and check its predictions "
    "against the artifact on the host before writing.",
)
@click.option(
    "--samples",
    type=click.Path(path_type=Path),
    default=None,
    help="--verify-on inputs: .npz with x (and labels y) or .npy (default: 8 random inputs).",
)
@json_option
def package(
    artifact: Path,
    platform: str,
    output: Path | None,
    labels: Path | None,
    name: str | None,
    version: str,
    mean: tuple[float, ...] | None,
    std: tuple[float, ...] | None,
    scale: float | None,
    verify_on: str | None,
    samples: Path | None,
    as_json: bool,
) -> None:
    """Package an exported ARTIFACT (with its manifest) for an Android app, an iOS app or a Linux board."""
    from edge_kit.packager import Normalization, PackageRequest
    from edge_kit.packager import package as run_package

    result = run_package(
        PackageRequest(
            artifact=artifact,
            platform=platform,
            output=output,
            labels=labels,
            name=name,
            version=version,
            normalization=Normalization(scale=scale, mean=mean, std=std),
            verify_on=verify_on,
            samples=samples,
        )
    )
    if as_json:
        emit_json(result.to_dict())


def register(group: click.Group) -> None:
    group.add_command(package)
