"""Informational commands: `targets`, `recipes`, `schema` (and later `doctor`)."""

from __future__ import annotations

import click

from edge_kit.cli.options import json_option
from edge_kit.cli.output import echo, emit_json


@click.command()
@json_option
def targets(as_json: bool) -> None:
    """List the deployment targets (data files in targets/*.toml)."""
    from edge_kit.targets import all_targets

    found = all_targets()
    if as_json:
        emit_json([t.summary() for t in found.values()])
        return
    echo(f"{'target':<15}{'aliases':<24}{'cpu':<12}{'cores':>5}{'GHz':>6}  {'formats':<28}description")
    for t in found.values():
        s = t.summary()
        echo(
            f"{t.name:<15}{','.join(t.aliases):<24}{t.qemu_cpu or 'native':<12}{s['cores']:>5}"
            f"{(t.clock_ghz or 0):>6.2f}  {','.join(t.preferred_formats):<28}{t.description}"
        )


@click.command()
@json_option
def recipes(as_json: bool) -> None:
    """List the quantization recipes (data files in quantize/*.toml); * marks defaults."""
    from edge_kit.recipes import all_recipes, is_default

    found = sorted(all_recipes().values(), key=lambda r: (r.format, r.precision, r.name))
    if as_json:
        emit_json([r.summary() for r in found])
        return
    width = max([44, *(len(r.name) + 2 for r in found)])
    echo(f"  {'recipe':<{width}}{'format':<12}{'precision':<14}{'sources':<24}description")
    for r in found:
        echo(
            f"{'*' if is_default(r) else ' '} {r.name:<{width}}{r.format:<12}{r.precision:<14}"
            f"{','.join(r.sources):<24}{r.description}"
        )


@click.command()
@json_option
def routes(as_json: bool) -> None:
    """List the conversion routes, by source framework and format, in the order they are tried."""
    from edge_kit import registry

    rows = [
        {
            "framework": fw,
            "format": fmt,
            "route": r.name,
            "precisions": list(r.precisions),
            "description": r.description,
        }
        for fw in registry.frameworks()
        for fmt in registry.formats()
        for r in registry.routes_for(fw, fmt)
    ]
    if as_json:
        emit_json(rows)
        return
    echo(f"{'from':<12}{'to':<12}{'route':<44}{'precisions':<34}description")
    for row in rows:
        echo(
            f"{row['framework']:<12}{row['format']:<12}{row['route']:<44}"
            f"{','.join(row['precisions']):<34}{row['description']}"
        )
    echo("(fp16 and int8 of onnx are quantized from its fp32 model whatever route made it)")


@click.command()
@click.argument("name", required=False)
@json_option
def schema(name: str | None, as_json: bool) -> None:
    """Print the JSON Schema of document NAME (target, recipe, devices, manifest, profile, bench,
    package-metadata); without NAME, list them."""
    from edge_kit.documents import MODELS, shipped_schema

    if name is not None:
        emit_json(shipped_schema(name))
    elif as_json:
        emit_json([{"name": n, "document": what} for n, (_, _, what) in MODELS.items()])
    else:
        width = max(map(len, MODELS)) + 2
        for n, (_, _, what) in MODELS.items():
            echo(f"{n:<{width}}{what}")


def register(group: click.Group) -> None:
    group.add_command(targets)
    group.add_command(recipes)
    group.add_command(routes)
    group.add_command(schema)
