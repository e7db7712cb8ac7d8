"""Chart labels: long names shortened so they stay apart, and point labels placed without overlaps.

Axis labels longer than MAX_LABEL lose their middle (`shorten`); when that makes two of them
read the same (ONNX node paths differ in the middle: /features/features.16/conv/...), each keeps
its first word and the part around where it differs from the others instead (`shorten_all`).

Point labels (`place_labels`): each tries offsets around its point, nearest first (right, above-right, below-right,
above, below, left, ...), and takes the first box that stays inside the axes and clears every
marker and every label placed before it; far offsets get a thin leader line. When nothing is
free it takes the box with the least overlap. Deterministic: same points, same placement.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import takewhile
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

MAX_LABEL = 34  # characters of an axis label
SEPARATORS = "/._ :"
Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in display pixels

DIRECTIONS = ((1, 0), (1, 1), (1, -1), (0, 1), (0, -1), (-1, 0), (-1, 1), (-1, -1))
RADII = (7, 13, 22, 34, 48)  # points from the marker's centre
LEADER = 22  # from this offset on, a thin line joins the label to its point
FONT_SIZE = 8
GAP = 2.0  # pixels kept clear around each label


def shorten(text: str, limit: int = MAX_LABEL) -> str:
    """`text`, or its start and end around an ellipsis when longer than `limit`."""
    if len(text) <= limit:
        return text
    head = (limit - 1) // 2
    return text[:head] + "…" + text[len(text) - (limit - 1 - head) :]


def shorten_all(texts: Sequence[str], limit: int = MAX_LABEL) -> list[str]:
    """`shorten` each text; texts that would then read the same keep the part that tells them apart."""
    short = [shorten(t, limit) for t in texts]
    return [
        s
        if short.count(s) == 1
        else _around_difference(t, [o for o, so in zip(texts, short) if so == s and o != t], limit)
        for t, s in zip(texts, short)
    ]


def _around_difference(text: str, siblings: list[str], limit: int) -> str:
    """The first word of `text`, then a window starting a little before where it differs from `siblings`."""
    if not siblings:  # the very same text twice: nothing tells them apart
        return shorten(text, limit)
    first = max(sum(1 for _ in takewhile(lambda ab: ab[0] == ab[1], zip(text, other))) for other in siblings)
    head = text.split(" ", 1)[0] + " " if " " in text[:first] else ""
    head = head if len(head) <= limit // 3 else ""
    room = limit - len(head) - 2  # two ellipses at most
    start = max(len(head), first - room // 3)
    cut = max((text.rfind(sep, len(head), start) for sep in SEPARATORS), default=-1)
    if cut >= len(head) and start - cut <= 8:
        start = cut + 1  # begin after a separator: "features.16/…" rather than "tures.16/…"
    body = text[start : start + room]
    return head + ("…" if start > len(head) else "") + body + ("…" if start + room < len(text) else "")


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
