"""Quantization recipes as data: `quantize/*.toml` validated into `Recipe` documents (edge_kit.documents).

A recipe names the settings behind one precision of one format (per-channel or not,
calibration method and sample count, activation/weight types, I/O type, ops kept in
float, image preprocessing for calibration folders). The TOML files ship inside the
wheel (package `edge_kit.recipes_data`); users add their own in `$EDGEKIT_RECIPES_PATH`
(os.pathsep-separated folders) or `~/.config/edgekit/recipes/`. A user file with the
same name overrides a shipped one, and a user default replaces the shipped default.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from edge_kit.documents.base import validated
from edge_kit.documents.recipe import COLORS, DTYPES, LAYOUTS, QUANTIZED, Preprocess, Recipe
from edge_kit.errors import UnsupportedError, UsageError
from edge_kit.fsutil import read_text, shipped_data

__all__ = [
    "COLORS",
    "DTYPES",
    "LAYOUTS",
    "QUANTIZED",
    "Preprocess",
    "Recipe",
    "all_recipes",
    "default_recipe",
    "get_recipe",
    "resolve",
]


def _fail(origin: str, problem: str, hint: str | None = None) -> UsageError:
    return UsageError(f"recipe file {origin}: {problem}", hint=hint)


def parse(data: dict[str, Any], origin: str) -> Recipe:
    """Validate one recipe table; every problem is one line naming the file and the field."""
    return validated(Recipe, data, f"recipe file {origin}", UsageError, origin=origin)


def _user_dirs() -> list[Path]:
    env = os.environ.get("EDGEKIT_RECIPES_PATH")
    dirs = [Path(p) for p in env.split(os.pathsep) if p] if env else []
    return dirs + [Path.home() / ".config" / "edgekit" / "recipes"]


def _texts(user_dirs: tuple[Path, ...]) -> list[tuple[str, str, bool]]:
    shipped = shipped_data("edge_kit.recipes_data", "quantize")
    out = [
        (entry.name, entry.read_text(encoding="utf-8"), False)
        for entry in sorted(shipped.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".toml")
    ]
    for folder in user_dirs:
        if folder.is_dir():
            out += [(str(p), read_text(p, "recipe file"), True) for p in sorted(folder.glob("*.toml")) if p.is_file()]
    return out


@dataclass(frozen=True)
class Catalog:
    """Every recipe by name, and the default recipe name per (format, precision, framework)."""

    recipes: dict[str, Recipe]
    defaults: dict[tuple[str, str, str], str]


@lru_cache(maxsize=8)
def _load_all(user_dirs: tuple[Path, ...]) -> Catalog:
    found: dict[str, Recipe] = {}
    claims: dict[tuple[str, str, str], tuple[str, bool]] = {}
    for origin, text, is_user in _texts(user_dirs):
        try:
            recipe = parse(tomllib.loads(text), origin)
        except tomllib.TOMLDecodeError as exc:
            raise UsageError(f"recipe file {origin} is not valid TOML: {exc}") from None
        found[recipe.name] = recipe
        for framework in recipe.sources if recipe.default else ():
            key = (recipe.format, recipe.precision, framework)
            other = claims.get(key)
            if other and other[1] == is_user and other[0] != recipe.name:
                raise _fail(
                    origin,
                    f"both '{other[0]}' and '{recipe.name}' claim to be the default "
                    f"for {framework} → {recipe.format} at {recipe.precision}",
                )
            claims[key] = (recipe.name, is_user)
    defaults = {key: name for key, (name, _) in claims.items() if found[name].default}
    return Catalog(recipes=found, defaults=defaults)


def all_recipes() -> dict[str, Recipe]:
    """Every known recipe by name (shipped, then user additions and overrides)."""
    return _load_all(tuple(_user_dirs())).recipes


def is_default(recipe: Recipe) -> bool:
    """True when `recipe` is the default for at least one of its source frameworks."""
    return recipe.name in _load_all(tuple(_user_dirs())).defaults.values()


def get_recipe(name: str) -> Recipe:
    """A recipe by name; an unknown name lists the known ones and the closest."""
    recipes = all_recipes()
    if name in recipes:
        return recipes[name]
    close = difflib.get_close_matches(name, list(recipes), n=1, cutoff=0.4)
    hint = f"did you mean '{close[0]}'? " if close else ""
    raise UsageError(f"unknown recipe '{name}'", hint=f"{hint}known recipes: {', '.join(sorted(recipes))}")


def default_recipe(fmt: str, precision: str, framework: str) -> Recipe:
    """The default recipe for `framework` → `fmt` at `precision`."""
    catalog = _load_all(tuple(_user_dirs()))
    name = catalog.defaults.get((fmt, precision, framework))
    if name is None:
        raise UnsupportedError(
            f"no quantization recipe for {framework} → {fmt} at {precision}",
            hint="see `edgekit recipes` for the pairs that exist",
        )
    return catalog.recipes[name]


def resolve(fmt: str, precision: str, framework: str, name: str | None) -> Recipe | None:
    """The recipe an export uses: the named one (checked against the path) or the default; None for fp32."""
    if name is None:
        return None if precision == "fp32" else default_recipe(fmt, precision, framework)
    recipe = get_recipe(name)
    if recipe.format != fmt or framework not in recipe.sources:
        raise UsageError(
            f"recipe '{name}' is for {', '.join(recipe.sources)} → {recipe.format}, not {framework} → {fmt}",
            hint=f"recipes for this path: {', '.join(names_for(fmt, framework)) or 'none'}",
        )
    if recipe.precision != precision:
        raise UsageError(
            f"recipe '{name}' quantizes to {recipe.precision}, not {precision}",
            hint=f"pass --quantize {recipe.precision} or omit --quantize",
        )
    return recipe


def equalized_alternatives(recipe: Recipe, framework: str) -> list[str]:
    """Recipes for the same path and precision that equalize and bias-correct first, when `recipe` does not."""
    if recipe.prepares_source:
        return []
    return sorted(
        r.name
        for r in all_recipes().values()
        if r.format == recipe.format
        and framework in r.sources
        and r.precision == recipe.precision
        and r.prepares_source
    )


def names_for(fmt: str, framework: str) -> list[str]:
    return sorted(r.name for r in all_recipes().values() if r.format == fmt and framework in r.sources)
