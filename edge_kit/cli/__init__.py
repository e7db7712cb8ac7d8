"""The `edgekit` command line: a thin click layer over the library.

Errors are mapped to exit codes here and only here: every `EdgeKitError` prints one
line (`--debug` adds the traceback) and exits with its documented code.
"""

from __future__ import annotations

import os
import signal
import sys
import traceback
from typing import Any, NoReturn

import click

from edge_kit import __version__, progress
from edge_kit.cli.output import set_json_stream
from edge_kit.errors import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_TERMINATED, EXIT_USAGE, EdgeKitError


class Terminated(BaseException):
    """Raised in the main thread on SIGTERM so cleanup (temp files, children) runs."""


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="edgekit")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.option("--quiet", "-q", is_flag=True, help="Only print warnings and errors on stderr.")
def cli(debug: bool, quiet: bool) -> None:
    """Export, quantize, profile and package ML models for edge devices."""
    progress.set_quiet(quiet)


def _register() -> None:
    from edge_kit.cli import bench_cmd, devices_cmd, export_cmd, info_cmd, package_cmd, profile_cmd, setup_cmd

    for module in (export_cmd, info_cmd, profile_cmd, setup_cmd, bench_cmd, package_cmd, devices_cmd):
        module.register(cli)


_register()


def _on_sigterm(_signum: int, _frame: Any) -> None:
    raise Terminated()


def _redirect_stdout() -> None:
    """Keep the real stdout for JSON/results; point fd 1 (C libraries, prints) at stderr."""
    saved = os.dup(1)
    os.dup2(2, 1)
    set_json_stream(os.fdopen(saved, "w", encoding="utf-8", closefd=True))


def _fail(code: int, line: str, debug: bool) -> NoReturn:
    if debug:
        traceback.print_exc(file=sys.stderr)
    print(f"edgekit: {line}", file=sys.stderr, flush=True)
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    """Console entry point."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args or os.environ.get("EDGEKIT_DEBUG") == "1"
    args = (["--debug"] if "--debug" in args else []) + [a for a in args if a != "--debug"]  # anywhere on the line
    signal.signal(signal.SIGTERM, _on_sigterm)
    _redirect_stdout()
    try:
        cli.main(args=args, prog_name="edgekit", standalone_mode=False)
    except EdgeKitError as exc:
        _fail(exc.exit_code, f"error: {exc.one_line()}", debug)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        command = f" {args[0]}" if args and not args[0].startswith("-") else ""
        _fail(
            getattr(exc, "exit_code", EXIT_USAGE),
            f"error: {' '.join(exc.format_message().split())} (see 'edgekit{command} --help')",
            debug,
        )
    except (KeyboardInterrupt, click.exceptions.Abort):
        _fail(EXIT_INTERRUPTED, "interrupted; no partial output was left behind", debug)
    except Terminated:
        _fail(EXIT_TERMINATED, "terminated; no partial output was left behind", debug)
    except Exception as exc:  # noqa: BLE001 - last resort: one line, never a raw traceback
        _fail(
            EXIT_INTERNAL,
            f"internal error: {type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''} "
            "(rerun with --debug and report it)",
            debug,
        )
    sys.exit(0)
