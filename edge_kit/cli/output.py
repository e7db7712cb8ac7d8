"""Where command results go: JSON documents to the real stdout, everything else to stderr."""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

_json_stream: TextIO | None = None


def set_json_stream(stream: TextIO) -> None:
    """Called by `main` with the process's original stdout (fd 1 is pointed at stderr)."""
    global _json_stream
    _json_stream = stream


def emit_json(document: Any) -> None:
    """Print one JSON document on stdout and nothing else."""
    stream = _json_stream or sys.stdout
    stream.write(json.dumps(document, indent=2, default=str) + "\n")
    stream.flush()


def echo(text: str = "") -> None:
    """Human-readable command output (tables): stdout when not --json."""
    stream = _json_stream or sys.stdout
    stream.write(text + "\n")
    stream.flush()
