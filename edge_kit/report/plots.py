"""Charts for the self-contained HTML reports: matplotlib (Agg) figures saved as inline SVG.

Every chart is deterministic: the same data gives the same SVG bytes (no date, no
creator, ids hashed with a fixed per-chart salt, text kept as <text> in DejaVu Sans
metrics). matplotlib is imported on the first chart, so the CLI stays fast.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from edge_kit.report.labels import place_labels, shorten_all

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

PALETTE = ("#2563eb", "#16a34a", "#dc2626", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#4b5563")
WIDTH_IN = 7.2  # inches at 72 pt each: 518 pt, about 690 CSS px
STYLE: dict[str, Any] = {
    "svg.fonttype": "none",  # text stays <text>: small files, selectable, the page's font
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],  # ships with matplotlib: the same metrics (layout) everywhere
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.edgecolor": "#999999",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.axisbelow": True,
    "grid.color": "#e5e7eb",
    "xtick.color": "#333333",
    "ytick.color": "#333333",
    "legend.frameon": False,
}


@dataclass(frozen=True)
class Point:
    label: str
    x: float
    y: float
    highlight: bool = False


def pareto_front(points: Sequence[Point]) -> list[Point]:
    """Points not dominated by another (lower x is better, higher y is better)."""
    front = [p for p in points if not any(q.x <= p.x and q.y >= p.y and (q.x < p.x or q.y > p.y) for q in points)]
    return sorted(front, key=lambda p: p.x)


def _salt(title: str) -> str:
    """A per-chart salt: ids (clip paths, markers) differ between the charts of one page."""
    return "edgekit-" + (re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "chart")


@contextmanager
def _figure(title: str, height_in: float) -> Iterator[Figure]:
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    salt = _salt(title)
    rc: Any = {**STYLE, "svg.hashsalt": salt, "svg.id": salt}  # ids: fixed, and distinct per chart
    with matplotlib.rc_context(rc):
        fig = Figure(figsize=(WIDTH_IN, height_in), layout="constrained")
        FigureCanvasAgg(fig)  # text is measured with Agg; savefig(format="svg") writes the SVG
        yield fig


def _svg(fig: Figure) -> str:
    """The figure as an <svg> element (no XML prolog, no metadata) for inlining in HTML."""
    buf = io.StringIO()
    metadata: dict[str, Any] = {"Date": None, "Creator": None, "Format": None, "Type": None}
    fig.savefig(buf, format="svg", metadata=metadata)
    text = buf.getvalue()
    return text[text.index("<svg") :].strip() + "\n"


def _chart(title: str, height_in: float, draw: Callable[[Figure], None]) -> str:
    with _figure(title, height_in) as fig:
        draw(fig)
        return _svg(fig)


def _message(title: str, text: str) -> str:
    """A small chart-sized box saying why there is no chart."""

    def draw(fig: Figure) -> None:
        fig.suptitle(title, fontweight="bold", fontsize=10)
        fig.text(0.02, 0.3, text, color="#555555")

    return _chart(title, 0.7, draw)


def bar_chart(labels: Sequence[str], values: Sequence[float], title: str, unit: str = "") -> str:
    """Horizontal bars, one per label (names on the y axis), each value printed at its bar's end."""
    if not labels:
        return _message(title, "no data")

    def draw(fig: Figure) -> None:
        ax = fig.add_subplot()
        rows = range(len(labels))
        colours = [PALETTE[i % len(PALETTE)] for i in rows]
        bars = ax.barh(rows, values, height=0.7, color=colours)
        ax.set_yticks(rows, shorten_all([str(label) for label in labels]))
        ax.invert_yaxis()  # the first label on top
        ax.tick_params(axis="y", length=0)
        ax.grid(axis="x")
        ax.set_title(title)
        if unit:
            ax.set_xlabel(unit)
        _value_axis(ax, [float(v) for v in values])
        texts = ax.bar_label(bars, labels=[f"{v:.4g} {unit}".strip() for v in values], padding=3, fontsize=8)
        _fit_bar_labels(fig, ax, [float(v) for v in values], texts)

    return _chart(title, 0.75 + 0.24 * len(labels), draw)


def _ticks(integer: bool = False) -> Any:
    """At most 7 ticks at 1, 2, 2.5 or 5 times a power of ten: labels that never touch."""
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10], integer=integer)


def _short(value: float, _position: object = None) -> str:
    """Tick text for large numbers: 350k, 1.5M."""
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:g}{suffix}"
    return f"{value:g}"


def _value_axis(ax: Axes, values: list[float]) -> None:
    """Few ticks, whole numbers for counts, 350k for large values."""
    from matplotlib.ticker import FuncFormatter

    ax.xaxis.set_major_locator(_ticks(integer=all(v.is_integer() for v in values)))
    if max(values) >= 1e4:
        ax.xaxis.set_major_formatter(FuncFormatter(_short))


def _fit_bar_labels(fig: Figure, ax: Axes, values: list[float], texts: Sequence[Any]) -> None:
    """Widen the x range until every value label ends inside the axes (no clipping, no overlap)."""
    top = max(max(values), 0.0) or 1.0
    ax.set_xlim(0, top * 1.05)
    fig.draw_without_rendering()  # lay out: the axes' final width
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    width = ax.get_window_extent(renderer).width
    pad = 3 * fig.dpi / 72 + 2
    needed = top * 1.05
    for value, text in zip(values, texts):
        room = width - pad - text.get_window_extent(renderer).width
        if value > 0 and room > 0:
            needed = max(needed, value * width / room)
    ax.set_xlim(0, needed)


def histogram(samples: Sequence[float], title: str, unit: str = "ms", bins: int = 20) -> str:
    """Latency samples per bin, with p50 and p90 marked by dashed lines named in the legend."""
    if not samples:
        return _message(title, "no samples")
    ordered = sorted(samples)

    def draw(fig: Figure) -> None:
        ax = fig.add_subplot()
        ax.hist(ordered, bins=min(bins, max(len(set(ordered)), 1)), color=PALETTE[0], edgecolor="white")
        for name, q, colour in (("p50", 0.5, PALETTE[1]), ("p90", 0.9, PALETTE[2])):
            value = ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))]
            ax.axvline(value, color=colour, linestyle="--", linewidth=1.5, label=f"{name} {value:.4g} {unit}")
        ax.yaxis.set_major_locator(_ticks(integer=True))
        ax.xaxis.set_major_locator(_ticks())
        ax.ticklabel_format(axis="x", useOffset=False)
        ax.grid(axis="y")
        ax.set(title=title, xlabel=unit, ylabel="runs")
        fig.legend(loc="outside right upper")

    return _chart(title, 2.6, draw)


def scatter(points: Sequence[Point], title: str, x_label: str, y_label: str) -> str:
    """Latency vs accuracy: the Pareto front joined in green, highlighted points in red, labels placed
    where they overlap neither each other nor the markers. Markers sit in SVG groups `pareto`
    (on the front) and `dominated`."""
    if not points:
        return _message(title, "no points")
    front = pareto_front(points)

    def draw(fig: Figure) -> None:
        ax = fig.add_subplot()
        if len(front) > 1:
            ax.plot([p.x for p in front], [p.y for p in front], color=PALETTE[1], linewidth=2, zorder=1, gid="front")
        for gid, group in (("dominated", [p for p in points if p not in front]), ("pareto", front)):
            if group:
                ax.scatter(
                    [p.x for p in group],
                    [p.y for p in group],
                    s=[90 if p.highlight else 45 for p in group],
                    c=[PALETTE[2] if p.highlight else PALETTE[0] for p in group],
                    edgecolors=PALETTE[1] if gid == "pareto" else "none",
                    linewidths=2,
                    zorder=2,
                    gid=gid,
                )
        _scatter_axes(ax, points, title, x_label, y_label)
        fig.legend(handles=_legend_handles(), loc="outside lower center", ncols=3)
        place_labels(fig, ax, [(p.label, p.x, p.y, 90 if p.highlight else 45) for p in points])

    return _chart(title, 4.2, draw)


def _scatter_axes(ax: Axes, points: Sequence[Point], title: str, x_label: str, y_label: str) -> None:
    x_hi = max(p.x for p in points)
    y_lo, y_hi = min(p.y for p in points), max(p.y for p in points)
    margin = 1.0 if y_hi == y_lo else 0.12 * (y_hi - y_lo)
    ax.set_xlim(0, x_hi * 1.25 if x_hi > 0 else 1.0)
    ax.set_ylim(y_lo - margin, y_hi + margin)
    ax.xaxis.set_major_locator(_ticks())
    ax.ticklabel_format(useOffset=False)
    ax.grid(True)
    ax.set(title=title, xlabel=x_label, ylabel=y_label)


def _legend_handles() -> list[Any]:
    from matplotlib.lines import Line2D

    def marker(colour: str, edge: str, label: str) -> Line2D:
        return Line2D(
            [],
            [],
            linestyle="none",
            marker="o",
            markersize=7,
            markerfacecolor=colour,
            markeredgecolor=edge,
            markeredgewidth=2,
            label=label,
        )

    return [
        marker(PALETTE[0], PALETTE[1], "on the Pareto front"),
        marker(PALETTE[0], "none", "dominated"),
        marker(PALETTE[2], "none", "recommended"),
    ]
