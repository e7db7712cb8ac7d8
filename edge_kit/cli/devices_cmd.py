"""`edgekit devices`: the devices inventory, each device checked with a short batch-mode ssh login."""

from __future__ import annotations

from pathlib import Path

import click

from edge_kit.cli.options import devices_file_option, json_option
from edge_kit.cli.output import echo, emit_json


@click.command()
@devices_file_option
@click.option("--group", default=None, metavar="GROUP", help="Only this group (or device, or comma list).")
@click.option("--no-check", is_flag=True, help="List only; do not try to log in.")
@json_option
def devices(devices_file: Path | None, group: str | None, no_check: bool, as_json: bool) -> None:
    """List the devices of the inventory (devices.toml) and whether each is reachable over SSH."""
    from edge_kit import progress
    from edge_kit.devices import check_all, load_inventory

    inventory = load_inventory(devices_file)
    chosen = inventory.select(group) if group else list(inventory.devices.values())
    if not inventory.exists:
        progress.warn(f"no devices inventory at {inventory.path} (see docs/devices.md for the format)")
    reach = {} if no_check else check_all(chosen)
    rows = [{**d.summary(), "reachable": vars(reach[d.name]) if d.name in reach else None} for d in chosen]
    if as_json:
        emit_json({"path": str(inventory.path), "groups": inventory.groups(), "devices": rows})
        return
    echo(f"devices: {inventory.path}")
    echo(f"{'name':<16}{'address':<28}{'target':<14}{'jobs':>4}  {'groups':<18}reachable")
    for row in rows:
        r = row["reachable"]
        state = (
            "not checked" if r is None else f"yes ({r['detail']})" if r["ok"] else f"NO: {r['status']}: {r['detail']}"
        )
        echo(
            f"{row['name']:<16}{row['address']:<28}{row['target'] or '-':<14}{row['concurrency']:>4}  "
            f"{','.join(row['groups']) or '-':<18}{state}"
        )


def register(group: click.Group) -> None:
    group.add_command(devices)
