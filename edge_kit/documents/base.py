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
from typing import Annotated, Any, ClassVar, Literal, TypeVar

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


def path(loc: tuple[Any, ...] | list[Any]) -> str:
    """('cpuinfo', 0, 'count') -> 'cpuinfo[0].count'."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _strip(annotation: Any) -> Any:
    """The type inside Annotated and Optional (a union of several types stays a union)."""
    while True:
        if typing.get_origin(annotation) is Annotated:
            annotation = typing.get_args(annotation)[0]
        elif typing.get_origin(annotation) in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) > 1:
                return annotation
            annotation = args[0]
        else:
            return annotation


def _member(union: Any, label: Any) -> Any:
    """The member of `union` pydantic labels `label` in an error location (its type name or its tag)."""
    for member in (_strip(a) for a in typing.get_args(union)):
        if getattr(member, "__name__", None) == label:
            return member
        fields = member.model_fields.values() if isinstance(member, type) and issubclass(member, BaseModel) else ()
        if any(
            typing.get_origin(f.annotation) is Literal and typing.get_args(f.annotation) == (label,) for f in fields
        ):
            return member
    return None


def walk(model: type[BaseModel], loc: tuple[Any, ...]) -> tuple[list[Any], Any]:
    """`loc` without the labels pydantic adds for union members and dict keys, and the annotation
    it ends at (None when it cannot be followed)."""
    kept: list[Any] = []
    current: Any = model
    for part in loc:
        current = _strip(current)
        origin = typing.get_origin(current)
        if part == "[key]":
            continue
        if origin in (typing.Union, types.UnionType) and (member := _member(current, part)) is not None:
            current = member
            continue
        kept.append(part)
        if isinstance(current, type) and issubclass(current, BaseModel) and isinstance(part, str):
            field = current.model_fields.get(part)
            current = field.annotation if field is not None else None
        elif origin in (list, tuple, dict):
            current = typing.get_args(current)[-1 if origin is dict else 0]
        else:
            current = None
    return kept, current


def _describe_list(annotation: Any) -> str:
    item = _strip(annotation)
    args = typing.get_args(item) if typing.get_origin(item) in (list, tuple) else ()
    inner = _strip(args[0]) if args else None
    if isinstance(inner, type) and issubclass(inner, BaseModel):
        return f"a list of {getattr(inner, 'noun', 'table')}s"
    return f"a list of {_PLURAL[inner]}" if inner in _PLURAL else "a list"


def _quote(names: list[Any]) -> str:
    return ", ".join(f"'{n}'" for n in names)


def _grouped(errors: list[Any], first: Any, model: type[BaseModel]) -> tuple[str, str | None]:
    """'unknown field(s) ...' / 'missing field(s) ...' for every such error beside the first one."""
    parent = first["loc"][:-1]
    names = [e["loc"][-1] for e in errors if e["type"] == first["type"] and e["loc"][:-1] == parent]
    kept, table = walk(model, parent)
    where = f"{path(kept)}: " if kept else ""
    fields = "fields" if len(names) > 1 else "field"
    if first["type"] == "missing":
        return f"{where}missing {fields} {_quote(names)}", None
    table = _strip(table)
    known = sorted(table.model_fields) if isinstance(table, type) and issubclass(table, BaseModel) else []
    return f"{where}unknown {fields} {_quote(names)}", (f"known fields: {', '.join(known)}" if known else None)


def _one(error: Any, model: type[BaseModel], tables: bool) -> tuple[str, str | None]:
    """One problem as '<field> must be ..., not ...' (or the rule's own words)."""
    kept, annotation = walk(model, error["loc"])
    where, kind, ctx = path(kept) or "the document", error["type"], error.get("ctx") or {}
    if error["loc"][-1:] == ("[key]",):  # a key of a table keyed by a fixed vocabulary
        return f"{path(kept[:-1])}: unknown key '{kept[-1]}'", (f"use {ctx['expected']}" if "expected" in ctx else None)
    if isinstance(ctx.get("error"), ValueError):
        text = str(ctx["error"])
        sep = " " if text.startswith("must") else ": "  # field rules read as predicates
        return (f"{where}{sep}{text}" if kept else text), getattr(ctx["error"], "hint", None)
    if kind == "union_tag_not_found":
        return f"{where}: missing field {ctx['discriminator']}", None
    if kind == "union_tag_invalid":
        return f"{where}.{ctx['discriminator'][1:-1]} must be one of {ctx['expected_tags']}, not {ctx['tag']!r}", None
    got = _GOT.get(type(error["input"]), "null" if error["input"] is None else type(error["input"]).__name__)
    if kind in ("list_type", "tuple_type"):
        want = _describe_list(annotation)
    elif kind == "literal_error":
        return f"{where} must be one of {ctx['expected']}, not {error['input']!r}", None
    elif kind in _WANT:
        want = _WANT[kind]
    else:
        message = str(error["msg"])
        message = f"must {message.split(' should ', 1)[1]}" if " should " in message else message
        return f"{where} {message}", None
    text = f"{where} must be {want}, not {got}"
    return (text if tables else text.replace("a table", "an object")), None


def problem(exc: ValidationError, model: type[BaseModel], tables: bool = True) -> tuple[str, str | None]:
    """(one-line problem, hint) for the most telling error: unknown fields, then missing ones, then the rest."""
    errors = exc.errors()
    first = min(errors, key=lambda e: _ORDER.get(e["type"], 2))
    if first["type"] in _ORDER:
        return _grouped(errors, first, model)
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
