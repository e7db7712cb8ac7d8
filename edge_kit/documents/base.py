"""What every edgekit document model shares: strict typing, no unknown fields, one-line errors.

A document (a target or recipe TOML file, the devices inventory, a manifest, a profile
report, a bench leaderboard) is a pydantic model. Models are strict: a string is never
read as a number and true/false is never a number, but an integer is accepted where a
float is expected (TOML and JSON write 2 for 2.0). `validated` turns the first problem of a
pydantic `ValidationError` into one line naming the field path, e.g.
`microarch.cycles_per_insn.neon_fp must be a number, not a string`.
"""

from __future__ import annotations

import types
import typing
from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from edge_kit.errors import EdgeKitError

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


class Document(BaseModel):
    """A strict, immutable document table: unknown fields are errors."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    noun: ClassVar[str] = "table"  # what one of these is called in messages ("a list of tensors")


class Record(BaseModel):
    """A strict table of a JSON document edgekit writes and reads back (mutable, like its dict)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    noun: ClassVar[str] = "object"


def _as_tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


# A TOML/JSON list read into a tuple (frozen models keep tuples); the items stay strictly typed.
Tup = Annotated[tuple[T, ...], BeforeValidator(_as_tuple)]


class Rule(ValueError):
    """A cross-field rule a model validator enforces; `hint` says what to do."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


_WANT = {
    "string_type": "a string",
    "int_type": "an integer",
    "float_type": "a number",
    "bool_type": "true or false",
    "dict_type": "a table",
    "model_type": "a table",
    "model_attributes_type": "a table",
    "list_type": "a list",
    "tuple_type": "a list",
    "none_required": "null",
}
_GOT = {str: "a string", bool: "a boolean", int: "an integer", float: "a number", dict: "a table", list: "a list"}
_PLURAL = {str: "strings", int: "integers", float: "numbers", bool: "booleans"}
_ORDER = {"extra_forbidden": 0, "missing": 1}


def path(loc: tuple[Any, ...]) -> str:
    """('cpuinfo', 0, 'count') -> 'cpuinfo[0].count'."""
    out = ""
    for part in loc:
        if part == "[key]":
            continue
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _unwrap(annotation: Any) -> Any:
    """The type inside Optional / Annotated / a union with a model (the one messages talk about)."""
    while True:
        if typing.get_origin(annotation) is Annotated:
            annotation = typing.get_args(annotation)[0]
        elif typing.get_origin(annotation) in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
            annotation = (models or args)[0]
        else:
            return annotation


def _annotation_at(model: type[BaseModel], loc: tuple[Any, ...]) -> Any:
    """The annotation of the field at `loc` under `model` (None when it cannot be followed)."""
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        origin = typing.get_origin(current)
        if isinstance(current, type) and issubclass(current, BaseModel) and isinstance(part, str):
            field = current.model_fields.get(part)
            if field is None:
                return None
            current = field.annotation
        elif origin in (list, tuple) or origin is dict:
            current = typing.get_args(current)[-1 if origin is dict else 0]
        else:
            return None
    return current


def _describe_list(annotation: Any) -> str:
    item = _unwrap(annotation)
    args = typing.get_args(item) if typing.get_origin(item) in (list, tuple) else ()
    inner = _unwrap(args[0]) if args else None
    if isinstance(inner, type) and issubclass(inner, BaseModel):
        return f"a list of {getattr(inner, 'noun', 'table')}s"
    return f"a list of {_PLURAL[inner]}" if inner in _PLURAL else "a list"


def _quote(names: list[Any]) -> str:
    return ", ".join(f"'{n}'" for n in names)


def _grouped(errors: list[Any], first: Any, noun: str, model: type[BaseModel]) -> tuple[str, str | None]:
    """'unknown field(s) ...' / 'missing field(s) ...' for every such error beside the first one."""
    parent = first["loc"][:-1]
    names = [e["loc"][-1] for e in errors if e["type"] == first["type"] and e["loc"][:-1] == parent]
    where = f"{path(parent)}: " if parent else ""
    plural = "s" if len(names) > 1 else ""
    if first["type"] == "missing":
        return f"{where}missing {noun}{plural} {_quote(names)}", None
    table = _unwrap(_annotation_at(model, parent)) if parent else model
    known = sorted(table.model_fields) if isinstance(table, type) and issubclass(table, BaseModel) else []
    return f"{where}unknown {noun}{plural} {_quote(names)}", (f"known {noun}s: {', '.join(known)}" if known else None)


def _one(error: Any, model: type[BaseModel], tables: bool) -> tuple[str, str | None]:
    """One problem as '<field> must be ..., not ...' (or the rule's own words)."""
    where, kind = path(error["loc"]), error["type"]
    if error["loc"][-1:] == ("[key]",):  # a key of a table keyed by a fixed vocabulary
        expected = (error.get("ctx") or {}).get("expected")
        return f"{path(error['loc'][:-2])}: unknown key '{error['loc'][-2]}'", (f"use {expected}" if expected else None)
    raised = (error.get("ctx") or {}).get("error")
    if isinstance(raised, ValueError):
        text = str(raised)
        sep = " " if text.startswith("must") else ": "  # field rules read as predicates
        return (f"{where}{sep}{text}" if where else text), getattr(raised, "hint", None)
    got = _GOT.get(type(error["input"]), "null" if error["input"] is None else type(error["input"]).__name__)
    if not tables:
        got = got.replace("a table", "an object")
    if kind in ("list_type", "tuple_type"):
        return f"{where} must be {_describe_list(_annotation_at(model, error['loc']))}, not {got}", None
    if kind in _WANT:
        want = _WANT[kind] if tables else _WANT[kind].replace("a table", "an object")
        return f"{where} must be {want}, not {got}", None
    if kind == "literal_error":
        return f"{where} must be one of {error['ctx']['expected']}, not {error['input']!r}", None
    message = str(error["msg"])
    message = f"must {message.split(' should ', 1)[1]}" if " should " in message else message
    return (f"{where} {message}" if where else message), None


def problem(
    exc: ValidationError, model: type[BaseModel], noun: str = "field", tables: bool = True
) -> tuple[str, str | None]:
    """(one-line problem, hint) for the most telling error: unknown fields, then missing ones, then the rest."""
    errors = exc.errors()
    first = min(errors, key=lambda e: _ORDER.get(e["type"], 2))
    if first["type"] in _ORDER:
        return _grouped(errors, first, noun, model)
    return _one(first, model, tables)


def validated(
    model: type[M],
    data: Any,
    where: str,
    error: type[EdgeKitError],
    *,
    tables: bool = True,
    hint: str | None = None,
    **context: Any,
) -> M:
    """`model` validated from `data`; any problem is one `error` line: '<where>: <problem>'."""
    try:
        return model.model_validate(data, context=context or None)
    except ValidationError as exc:
        text, why = problem(exc, model, tables=tables)
        raise error(f"{where}: {text}", hint=why or hint) from None
