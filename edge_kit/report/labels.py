"""Point labels that overlap neither each other nor the markers: a small greedy placer.

Each label tries offsets around its point, nearest first (right, above-right, below-right,
above, below, left, ...), and takes the first box that stays inside the axes and clears every
marker and every label placed before it; far offsets get a thin leader line. When nothing is
free it takes the box with the least overlap. Deterministic: same points, same placement.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in display pixels

DIRECTIONS = ((1, 0), (1, 1), (1, -1), (0, 1), (0, -1), (-1, 0), (-1, 1), (-1, -1))
RADII = (7, 13, 22, 34, 48)  # points from the marker's centre
LEADER = 22  # from this offset on, a thin line joins the label to its point
FONT_SIZE = 8
GAP = 2.0  # pixels kept clear around each label


def _overlap(a: Box, b: Box) -> float:
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


def _inside(box: Box, frame: Box) -> bool:
    return box[0] >= frame[0] and box[1] >= frame[1] and box[2] <= frame[2] and box[3] <= frame[3]


def _box(anchor: tuple[float, float], size: tuple[float, float], direction: tuple[int, int]) -> Box:
    """The label's box when its aligned corner/edge sits at `anchor`, on the side of `direction`."""
    (ax_, ay), (w, h), (dx, dy) = anchor, size, direction
    x0 = ax_ if dx > 0 else ax_ - w if dx < 0 else ax_ - w / 2
    y0 = ay if dy > 0 else ay - h if dy < 0 else ay - h / 2
    return (x0 - GAP, y0 - GAP, x0 + w + GAP, y0 + h + GAP)


def _marker_box(centre: tuple[float, float], radius: float) -> Box:
    return (centre[0] - radius, centre[1] - radius, centre[0] + radius, centre[1] + radius)


def _alignment(direction: tuple[int, int]) -> tuple[str, str]:
    dx, dy = direction
    return (
        "left" if dx > 0 else "right" if dx < 0 else "center",
        "bottom" if dy > 0 else "top" if dy < 0 else "center",
    )


def place_labels(fig: Figure, ax: Axes, items: Sequence[tuple[str, float, float, float]]) -> list[Box]:
    """Annotate each (label, x, y, marker size in pt²) without overlaps; returns the label boxes.

    Lays the figure out first and then freezes the layout, so the labels cannot move the axes.
    """
    fig.draw_without_rendering()
    fig.set_layout_engine("none")
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    x0, y0, x1, y1 = ax.get_window_extent(renderer).extents
    frame = (float(x0), float(y0), float(x1), float(y1))
    px = fig.dpi / 72.0
    centres = [(float(cx), float(cy)) for cx, cy in (ax.transData.transform((x, y)) for _, x, y, _ in items)]
    markers = [_marker_box(c, math.sqrt(size) / 2 * px + 1) for c, (*_, size) in zip(centres, items)]
    placed: list[Box] = []
    for (label, x, y, size), (cx, cy) in zip(items, centres):
        probe = ax.text(0, 0, label, fontsize=FONT_SIZE)
        extent = probe.get_window_extent(renderer)
        probe.remove()
        best: tuple[float, int, tuple[int, int], Box] | None = None
        for radius in RADII:
            for direction in DIRECTIONS:
                norm = math.hypot(*direction)
                offset = (direction[0] / norm * radius, direction[1] / norm * radius)
                box = _box((cx + offset[0] * px, cy + offset[1] * px), (extent.width, extent.height), direction)
                if not _inside(box, frame):
                    continue
                cost = sum(_overlap(box, other) for other in placed + markers)
                if best is None or cost < best[0]:
                    best = (cost, radius, direction, box)
                if cost == 0:
                    break
            if best is not None and best[0] == 0:
                break
        if best is None:  # no box fits inside the axes: right of the point, clipped
            best = (0.0, RADII[0], (1, 0), _box((cx + RADII[0] * px, cy), (extent.width, extent.height), (1, 0)))
        _, radius, direction, box = best
        norm = math.hypot(*direction)
        ha, va = _alignment(direction)
        ax.annotate(
            label,
            (x, y),
            xytext=(direction[0] / norm * radius, direction[1] / norm * radius),
            textcoords="offset points",
            ha=ha,
            va=va,
            fontsize=FONT_SIZE,
            arrowprops=None
            if radius < LEADER
            else {
                "arrowstyle": "-",
                "color": "#9ca3af",
                "linewidth": 0.8,
                "shrinkA": 0,
                "shrinkB": math.sqrt(size) / 2,
            },
        )
        placed.append(box)
    return placed
