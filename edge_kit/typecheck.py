"""Reading and type-checking the tables of user files (TOML targets and recipes, JSON manifests).

Validators state the JSON/TOML type of each key once; `wrong_type` names the first key
whose value has another type, so the code after it can rely on the shape it reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_kit.errors import UsageError

NUMBER = (int, float)
_NAMES = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    dict: "a table",
    list: "a list",
    type(None): "null",
}
_PLURALS = {str: "strings", int: "integers", float: "numbers", bool: "booleans", dict: "tables"}


@dataclass(frozen=True)
class ListOf:
    """A list whose items all have one of `item`'s types."""

    item: tuple[type, ...]


Spec = tuple[type, ...] | ListOf


def is_a(value: Any, types: tuple[type, ...]) -> bool:
    """isinstance, except that true/false is not a number unless `bool` is listed."""
    return isinstance(value, types) and (not isinstance(value, bool) or bool in types)


def _describe(types: tuple[type, ...], names: dict[type, str]) -> str:
    if float in types and int in types:  # "a number" covers both
        types = tuple(t for t in types if t is not int)
    return " or ".join(names.get(t, t.__name__) for t in types)


def wrong_type(table: dict[str, Any], spec: dict[str, Spec], where: str = "") -> str | None:
    """'<where><key> must be ..., not ...' for the first key of `spec` in `table` with a wrong type."""
    for key, kind in spec.items():
        if key not in table:
            continue
        value = table[key]
        if isinstance(kind, ListOf):
            if isinstance(value, list) and all(is_a(v, kind.item) for v in value):
                continue
            want = f"a list of {_describe(kind.item, _PLURALS)}"
        elif is_a(value, kind):
            continue
        else:
            want = _describe(kind, _NAMES)
        return f"{where}{key} must be {want}, not {_NAMES.get(type(value), type(value).__name__)}"
    return None


def read_text(path: Path, what: str) -> str:
    """A user's UTF-8 text file; unreadable or not UTF-8 is a UsageError naming it."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{what} {path} is not UTF-8 text (byte {exc.start})", hint="save it as UTF-8") from None
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror}") from None
