"""Deployment targets as data: `targets/*.toml` validated into `Target` documents (edge_kit.documents).

The TOML files ship inside the wheel (package `edge_kit.targets_data`); users can
add their own in `$EDGEKIT_TARGETS_PATH` (os.pathsep-separated folders) or
`~/.config/edgekit/targets/`. A user file with the same name overrides a shipped one.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any

from edge_kit.documents.base import validated
from edge_kit.documents.target import INSN_CLASSES, ISA_FEATURES, PRECISIONS, CpuCluster, Microarch, Target
from edge_kit.errors import UsageError
from edge_kit.fsutil import read_text, shipped_data

__all__ = [
    "INSN_CLASSES",
    "ISA_FEATURES",
    "PRECISIONS",
    "CpuCluster",
    "Microarch",
    "Target",
    "all_targets",
    "get_target",
]


def _parse(data: dict[str, Any], source: str) -> Target:
    """Validate one target table; every problem is one line naming the file and the field."""
    return validated(Target, data, f"target file {source}", UsageError, source=source)


def _user_dirs() -> list[Path]:
    env = os.environ.get("EDGEKIT_TARGETS_PATH")
    dirs = [Path(p) for p in env.split(os.pathsep) if p] if env else []
    return dirs + [Path.home() / ".config" / "edgekit" / "targets"]


@lru_cache(maxsize=8)
def _load_all(user_dirs: tuple[Path, ...]) -> dict[str, Target]:
    found: dict[str, Target] = {}
    shipped = shipped_data("edge_kit.targets_data", "targets")
    sources = [
        (entry.name, entry.read_text(encoding="utf-8"))
        for entry in sorted(shipped.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".toml")
    ]
    for folder in user_dirs:
        if folder.is_dir():
            sources += [(str(p), read_text(p, "target file")) for p in sorted(folder.glob("*.toml")) if p.is_file()]
    for source, text in sources:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise UsageError(f"target file {source} is not valid TOML: {exc}") from None
        target = _parse(data, source)
        found[target.name] = target
    return found


def all_targets() -> dict[str, Target]:
    """Every known target by canonical name (shipped, then user overrides)."""
    return _load_all(tuple(_user_dirs()))


def get_target(name: str) -> Target:
    """Look a target up by name or alias; an unknown name lists the known ones."""
    targets = all_targets()
    lookup = {t.name: t for t in targets.values()}
    lookup.update({alias: t for t in targets.values() for alias in t.aliases})
    key = name.strip().lower()
    if key in lookup:
        return lookup[key]
    close = difflib.get_close_matches(key, list(lookup), n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    raise UsageError(f"unknown target '{name}'", hint=f"{hint}known targets: {', '.join(sorted(targets))}")
