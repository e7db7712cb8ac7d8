"""Informational commands: `targets` (and later `recipes`, `doctor`)."""

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
        echo(f"{t.name:<15}{','.join(t.aliases):<24}{t.qemu_cpu or 'native':<12}{s['cores']:>5}"
             f"{(t.clock_ghz or 0):>6.2f}  {','.join(t.preferred_formats):<28}{t.description}")


def register(group: click.Group) -> None:
    group.add_command(targets)
