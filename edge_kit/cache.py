"""Where edgekit keeps what it builds once and reuses (emulated root filesystems, plugins).

`$EDGEKIT_CACHE_DIR` wins, then `$XDG_CACHE_HOME/edgekit`, then `~/.cache/edgekit`.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """The cache folder (created on first use)."""
    env = os.environ.get("EDGEKIT_CACHE_DIR")
    if env:
        root = Path(env)
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        root = (Path(xdg) if xdg else Path.home() / ".cache") / "edgekit"
    root.mkdir(parents=True, exist_ok=True)
    return root
