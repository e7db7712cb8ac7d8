"""`edgekit setup` (build the emulated environment once) and `edgekit doctor` (what is missing)."""

from __future__ import annotations

import click

from edge_kit.cli.options import json_option
from edge_kit.cli.output import echo, emit_json

backend_option = click.option(
    "--backend",
    type=click.Choice(["qemu", "docker"]),
    default="qemu",
    show_default=True,
    help="docker: also the Docker engine, the buildx plugin, arm64 binfmt and the profiling image.",
)


@click.command()
@click.option("--target", "-t", default="raspi", show_default=True, metavar="NAME")
@backend_option
@click.option("--base-image", default=None, metavar="IMAGE", help="docker: build the profiling image on this image.")
@json_option
def setup(target: str, backend: str, base_image: str | None, as_json: bool) -> None:
    """Build and cache what profiling TARGET needs (arm64 rootfs, plugin, ExecuTorch runtime; docker: image)."""
    from edge_kit.emulation.setup import setup_target

    built = setup_target(target)
    if backend == "docker":
        from edge_kit.docker.setup import setup_docker

        built.update(setup_docker(base_image))
    if as_json:
        emit_json(built)
    else:
        for name, path in built.items():
            echo(f"{name:<22}{path}")


@click.command()
@click.option("--target", "-t", default="raspi", show_default=True, metavar="NAME")
@backend_option
@json_option
def doctor(target: str, backend: str, as_json: bool) -> None:
    """Report what is present, what is missing, and the command that fixes each."""
    from edge_kit.emulation.setup import check_dict
    from edge_kit.emulation.setup import doctor as run_doctor
    from edge_kit.errors import EnvironmentSetupError

    checks = run_doctor(target, docker=backend == "docker")
    if as_json:
        emit_json([check_dict(c) for c in checks])
    else:
        for c in checks:
            mark = "ok     " if c.ok else ("MISSING" if c.required else "absent ")
            echo(f"{mark} {c.name:<32}{c.detail}" + (f"\n        fix: {c.fix}" if not c.ok and c.fix else ""))
    missing = [c for c in checks if c.required and not c.ok]
    if missing:
        fixes = sorted({c.fix for c in missing if c.fix})
        raise EnvironmentSetupError(
            f"{len(missing)} required item(s) missing: {', '.join(c.name for c in missing)}", hint="; ".join(fixes)
        )


def register(group: click.Group) -> None:
    group.add_command(setup)
    group.add_command(doctor)
