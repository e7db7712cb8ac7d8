"""jinja2 templates shipped as package data, rendered strictly.

    TEMPLATES = Templates("edge_kit.packager", filters={"kotlin": kotlin_literal})
    TEMPLATES.render("android/AndroidManifest.xml.j2", name="digits", ...)

Templates live under `<package>/templates/` and end in `.j2`. A missing variable raises
(`StrictUndefined`) instead of rendering as an empty string. HTML and XML templates are
autoescaped; code and Markdown templates are not. jinja2 is imported on first render, so
importing a module that holds a `Templates` costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cached_property
from importlib import resources
from typing import TYPE_CHECKING, Any

from edge_kit.errors import EdgeKitError

if TYPE_CHECKING:
    import jinja2

ESCAPED = ("html.j2", "xml.j2", "plist.j2")  # markup: values are escaped; code and Markdown are not


class Templates:
    """The templates of one package: `render(name, **values)` and `text(name)` for static files."""

    def __init__(self, package: str, filters: Mapping[str, Callable[..., Any]] | None = None) -> None:
        self.package = package
        self.filters = dict(filters or {})

    @cached_property
    def environment(self) -> jinja2.Environment:
        import jinja2

        env = jinja2.Environment(
            loader=jinja2.PackageLoader(self.package, "templates"),
            undefined=jinja2.StrictUndefined,
            autoescape=jinja2.select_autoescape(enabled_extensions=ESCAPED, default_for_string=False),
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.filters.update(self.filters)
        return env

    def render(self, name: str, /, **values: Any) -> str:
        """The template `name` filled with `values`; a missing value is an internal error, not ''."""
        import jinja2

        try:
            return self.environment.get_template(name).render(**values)
        except jinja2.TemplateError as exc:  # a missing value or template is a bug in edgekit, not bad input
            raise EdgeKitError(f"internal: template {self.package}/templates/{name}: {exc}") from exc

    def text(self, name: str) -> str:
        """A static file under the templates folder, as it is (copied, not rendered)."""
        return resources.files(self.package).joinpath("templates", *name.split("/")).read_text("utf-8")


def markup(text: str) -> Any:
    """Mark already-safe HTML (an inline SVG) so an autoescaping template inserts it as it is."""
    import markupsafe

    return markupsafe.Markup(text)


def number(value: Any, spec: str, missing: str = "n/a") -> str:
    """`format(value, spec)` for a number, `missing` for anything else (None, a string)."""
    return format(value, spec) if isinstance(value, (int, float)) and not isinstance(value, bool) else missing
