"""Small, dependency-free SVG charts for self-contained HTML reports (no CDN, opens offline)."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass

PALETTE = ("#2563eb", "#16a34a", "#dc2626", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#4b5563")
FONT = 'font-family="system-ui, sans-serif" font-size="12"'


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _nice_max(value: float) -> float:
    if value <= 0 or not math.isfinite(value):
        return 1.0
    exponent = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * exponent:
            return step * exponent
    return 10 * exponent


def _svg(width: int, height: int, body: list[str], title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="{_esc(title)}" class="chart">'
        f'<text x="{width / 2}" y="16" text-anchor="middle" {FONT} font-weight="600">{_esc(title)}</text>'
        + "".join(body)
        + "</svg>"
    )


def bar_chart(labels: Sequence[str], values: Sequence[float], title: str, unit: str = "", width: int = 640) -> str:
    """Horizontal bars, one per label, with the value printed at the end of each bar."""
    row, left, right = 22, min(300, 24 + 7 * max((len(s) for s in labels), default=4)), 90
    height = 30 + row * max(len(labels), 1) + 10
    top = _nice_max(max(values, default=0.0))
    body = []
    for i, (label, value) in enumerate(zip(labels, values)):
        y = 28 + i * row
        length = (width - left - right) * (value / top if top else 0)
        body.append(
            f'<text x="{left - 6}" y="{y + 14}" text-anchor="end" {FONT}>{_esc(label)}</text>'
            f'<rect x="{left}" y="{y + 3}" width="{max(length, 1):.1f}" height="{row - 6}" '
            f'fill="{PALETTE[i % len(PALETTE)]}"><title>{_esc(label)}: {value:.4g} {unit}</title></rect>'
            f'<text x="{left + length + 4:.1f}" y="{y + 14}" {FONT}>{value:.4g} {_esc(unit)}</text>'
        )
    return _svg(width, height, body, title)


def histogram(
    samples: Sequence[float], title: str, unit: str = "ms", bins: int = 20, width: int = 640, height: int = 220
) -> str:
    """A histogram of latency samples with p50 and p90 marked."""
    if not samples:
        return _svg(width, 40, [f'<text x="10" y="34" {FONT}>no samples</text>'], title)
    lo, hi = min(samples), max(samples)
    span = (hi - lo) or 1.0
    counts = [0] * bins
    for s in samples:
        counts[min(bins - 1, int((s - lo) / span * bins))] += 1
    plot_w, plot_h, x0, y0 = width - 60, height - 60, 40, 30
    top = max(counts)
    body = [f'<line x1="{x0}" y1="{y0 + plot_h}" x2="{x0 + plot_w}" y2="{y0 + plot_h}" stroke="#999"/>']
    for i, c in enumerate(counts):
        h = plot_h * c / top
        body.append(
            f'<rect x="{x0 + i * plot_w / bins:.1f}" y="{y0 + plot_h - h:.1f}" '
            f'width="{plot_w / bins - 1:.1f}" height="{h:.1f}" fill="{PALETTE[0]}"/>'
        )
    ordered = sorted(samples)
    for name, q, color in (("p50", 0.5, PALETTE[1]), ("p90", 0.9, PALETTE[2])):
        value = ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))]
        x = x0 + (value - lo) / span * plot_w
        body.append(
            f'<line x1="{x:.1f}" y1="{y0}" x2="{x:.1f}" y2="{y0 + plot_h}" stroke="{color}" '
            f'stroke-dasharray="4 3"/><text x="{x + 3:.1f}" y="{y0 + 12}" {FONT} fill="{color}">'
            f"{name} {value:.4g} {unit}</text>"
        )
    body.append(
        f'<text x="{x0}" y="{height - 12}" {FONT}>{lo:.4g} {unit}</text>'
        f'<text x="{x0 + plot_w}" y="{height - 12}" text-anchor="end" {FONT}>{hi:.4g} {unit}</text>'
    )
    return _svg(width, height, body, title)


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


def scatter(
    points: Sequence[Point], title: str, x_label: str, y_label: str, width: int = 640, height: int = 360
) -> str:
    """A scatter plot with the Pareto front joined by a line (lower x, higher y is better)."""
    if not points:
        return _svg(width, 40, [f'<text x="10" y="34" {FONT}>no points</text>'], title)
    x0, y0, plot_w, plot_h = 60, 30, width - 170, height - 80  # room for labels on the right
    x_hi = _nice_max(max(p.x for p in points))
    y_lo, y_hi = min(p.y for p in points), max(p.y for p in points)
    y_lo, y_hi = (y_lo - 1, y_hi + 1) if y_hi == y_lo else (y_lo - 0.05 * (y_hi - y_lo), y_hi + 0.05 * (y_hi - y_lo))

    def pos(p: Point) -> tuple[float, float]:
        return x0 + p.x / x_hi * plot_w, y0 + plot_h - (p.y - y_lo) / (y_hi - y_lo) * plot_h

    body = [
        f'<rect x="{x0}" y="{y0}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#ccc"/>',
        f'<text x="{x0 + plot_w / 2}" y="{height - 10}" text-anchor="middle" {FONT}>{_esc(x_label)}</text>',
        f'<text x="14" y="{y0 + plot_h / 2}" transform="rotate(-90 14 {y0 + plot_h / 2})" '
        f'text-anchor="middle" {FONT}>{_esc(y_label)}</text>',
        f'<text x="{x0}" y="{y0 + plot_h + 16}" {FONT}>0</text>',
        f'<text x="{x0 + plot_w}" y="{y0 + plot_h + 16}" text-anchor="end" {FONT}>{x_hi:.4g}</text>',
        f'<text x="{x0 - 4}" y="{y0 + 10}" text-anchor="end" {FONT}>{y_hi:.3g}</text>',
        f'<text x="{x0 - 4}" y="{y0 + plot_h}" text-anchor="end" {FONT}>{y_lo:.3g}</text>',
    ]
    front = pareto_front(points)
    if len(front) > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in map(pos, front))
        body.append(
            f'<polyline points="{path}" fill="none" stroke="{PALETTE[1]}" stroke-width="2" class="pareto-line"/>'
        )
    for p in points:
        x, y = pos(p)
        on_front = p in front
        body.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{7 if p.highlight else 5}" '
            f'class="{"pareto" if on_front else "dominated"}" '
            f'fill="{PALETTE[2] if p.highlight else PALETTE[0]}" stroke="{PALETTE[1] if on_front else "none"}" '
            f'stroke-width="2"><title>{_esc(p.label)}: {p.x:.4g}, {p.y:.4g}</title></circle>'
            f'<text x="{x + 8:.1f}" y="{y - 6:.1f}" {FONT} font-size="10">{_esc(p.label)}</text>'
        )
    return _svg(width, height, body, title)


def page(title: str, sections: Sequence[tuple[str, str]]) -> str:
    """A self-contained HTML page: inline CSS, inline SVG, no external resources."""
    style = (
        "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:960px;color:#111}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ddd;padding:4px 8px;"
        "text-align:right}th{background:#f4f4f5}td:first-child,th:first-child{text-align:left}"
        ".note{color:#555;font-size:90%}.chart{display:block;margin:1em 0}h1{font-size:1.5em}"
    )
    body = "".join(f"<section><h2>{_esc(h)}</h2>{content}</section>" if h else content for h, content in sections)
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{_esc(title)}</title>'
        f"<style>{style}</style></head><body><h1>{_esc(title)}</h1>{body}</body></html>\n"
    )


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
