"""One root error type; every user-facing failure is an `EdgeKitError` subclass.

Each subclass carries a stable exit code (documented in README.md). The CLI maps
errors to exit codes in exactly one place (`edge_kit.cli.main`).
"""

from __future__ import annotations

from typing import Any

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


class EdgeKitError(Exception):
    """Root of all edgekit errors: a one-line message plus an optional hint."""

    exit_code: int = EXIT_INTERNAL

    def __init__(self, message: str, *, hint: str | None = None, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.fields = fields

    def __str__(self) -> str:
        return self.one_line()

    def one_line(self) -> str:
        """The message and hint as a single line (no newlines, ever)."""
        text = self.message if not self.hint else f"{self.message} — {self.hint}"
        return " ".join(text.split())


class UsageError(EdgeKitError):
    """Bad or contradictory arguments (unknown target, missing input shape, ...)."""

    exit_code = 2


class ModelLoadError(EdgeKitError):
    """The model file is missing, empty, corrupt or of an unrecognised kind."""

    exit_code = 3


class UnsupportedError(EdgeKitError):
    """The requested conversion path (format, precision, source) does not exist."""

    exit_code = 4


class ExportError(EdgeKitError):
    """A converter failed on a model it should handle."""

    exit_code = 5


class ValidationError(EdgeKitError):
    """The artifact was written but its outputs differ beyond tolerance, or an
    accuracy budget was exceeded."""

    exit_code = 6


class DataError(EdgeKitError):
    """Calibration, evaluation, sample-input or labels data is unusable."""

    exit_code = 7


class EnvironmentSetupError(EdgeKitError):
    """A tool, package or emulated environment edgekit needs is missing."""

    exit_code = 8


class RuntimeFailure(EdgeKitError):
    """The model crashed, hung or failed inside its runtime (host, emulated, container or remote)."""

    exit_code = 9


class OutputError(EdgeKitError):
    """The output location cannot be written (directory, read-only, disk full)."""

    exit_code = 10


class TrustError(EdgeKitError):
    """Loading the file would execute code from it; refused without a trust flag."""

    exit_code = 11


class DeviceError(EdgeKitError):
    """A remote device, Docker engine or builder is unreachable, refuses the key or lacks what the run needs."""

    exit_code = 12


class ManifestError(EdgeKitError):
    """An artifact's manifest is missing, invalid or no longer matches the artifact."""

    exit_code = 13


EXIT_CODES: dict[int, str] = {
    EXIT_OK: "success: the command did everything that was asked",
    EXIT_INTERNAL: "internal error (a bug in edgekit; rerun with --debug and report it)",
    **{
        cls.exit_code: (cls.__doc__ or "").split("\n")[0]
        for cls in (
            UsageError,
            ModelLoadError,
            UnsupportedError,
            ExportError,
            ValidationError,
            DataError,
            EnvironmentSetupError,
            RuntimeFailure,
            OutputError,
            TrustError,
            DeviceError,
            ManifestError,
        )
    },
    EXIT_INTERRUPTED: "interrupted (SIGINT / Ctrl-C); no partial output left behind",
    EXIT_TERMINATED: "terminated (SIGTERM); no partial output left behind",
}
