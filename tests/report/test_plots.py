"""matplotlib charts as inline SVG: deterministic bytes, self-contained, every label there, none overlapping."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from itertools import combinations

import pytest

from edge_kit.report import plots
from edge_kit.report.labels import MAX_LABEL, place_labels, shorten, shorten_all
from tests.conftest import ROOT

SVG = "{http://www.w3.org/2000/svg}"
OPS = ["FusedConv", "FusedGemm", "MaxPool", 'a<b & "c"', "FusedConv /features/features.16/conv/conv.0/conv.0.0/Conv"]
POINTS = [
    plots.Point("tflite-int8", 0.065, 98.67, True),
    plots.Point("tflite-fp32", 0.155, 98.67),
    plots.Point("onnx-fp32", 0.172, 98.67),
    plots.Point("onnx-int8", 0.245, 97.9),
    plots.Point("executorch-fp32", 0.04, 98.2),
]
CHARTS = {
    "bar": lambda: plots.bar_chart(OPS, [13.1, 2.56, 0.66, 0.31, 0.29], "time per run by operator", "ms"),
    "histogram": lambda: plots.histogram([14.02, 14.19, 14.1, 14.3, 15.0], "emulated latency per run"),
    "scatter": lambda: plots.scatter(POINTS, "latency vs accuracy", "estimated device p50 (ms)", "accuracy (%)"),
}
# The same charts in a fresh interpreter with another hash seed: nothing may depend on the process.
SCRIPT = """
import sys
from tests.report.test_plots import CHARTS
sys.stdout.write(CHARTS[sys.argv[1]]())
"""


def _texts(svg: str) -> list[str]:
    return ["".join(t.itertext()) for t in ET.fromstring(svg).iter(f"{SVG}text")]


def _group(svg: str, gid: str) -> ET.Element:
    return next(g for g in ET.fromstring(svg).iter(f"{SVG}g") if g.get("id") == gid)


def _markers(group: ET.Element) -> int:
    """Markers of a scatter group: <use> of one shared path, or one <path> each when sizes differ."""
    return len(group.findall(f".//{SVG}use")) or len(group.findall(f"{SVG}path"))


@pytest.mark.parametrize("kind", sorted(CHARTS))
def test_the_same_data_gives_identical_svg_bytes_in_any_process(kind: str):
    first, second = CHARTS[kind](), CHARTS[kind]()
    assert first == second
    other = subprocess.run(
        [sys.executable, "-c", SCRIPT, kind],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONHASHSEED": "12345"},
        timeout=120,
    )
    assert other.returncode == 0, other.stderr[-2000:]
    assert other.stdout == first


@pytest.mark.parametrize("kind", sorted(CHARTS))
def test_the_svg_is_inline_text_with_no_external_reference(kind: str):
    svg = CHARTS[kind]()
    assert svg.startswith("<svg ") and svg.rstrip().endswith("</svg>")
    assert "<?xml" not in svg and "<!DOCTYPE" not in svg and "<metadata" not in svg and "<image" not in svg
    urls = set(re.findall(r"https?://[^\"'\s)<]+", svg))
    assert urls <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}, urls
    assert all(ref.startswith("#") for ref in re.findall(r'href="([^"]*)"', svg))
    assert re.search(r"url\((?!#)", svg) is None
    assert "<text" in svg and "<path" in svg  # text stays text (svg.fonttype none), shapes are paths
    ET.fromstring(svg)  # well-formed


def test_every_bar_is_named_on_the_y_axis_and_long_names_keep_both_ends():
    texts = _texts(CHARTS["bar"]())
    for op in OPS[:4]:
        assert op in texts
    long = OPS[4]
    short = shorten(long)
    assert short in texts and long not in texts
    assert len(short) == MAX_LABEL and short.startswith(long[:10]) and short.endswith(long[-10:]) and "…" in short
    assert {"13.1 ms", "2.56 ms", "0.29 ms"} <= set(texts)  # each value at its bar's end
    assert "time per run by operator" in texts and "ms" in texts  # title and axis label
    assert html.escape(OPS[3], quote=False) in CHARTS["bar"]()  # escaped, not injected


def test_long_names_that_differ_in_the_middle_stay_distinct_and_keep_their_op_type():
    paths = [f"FusedConv /features/features.{i}/conv/conv.0/conv.0.0/Conv" for i in (1, 2, 10, 16)]
    names = shorten_all([*paths, "MaxPool node_max_pool2d"])
    assert len(set(names)) == len(names) and names[-1] == "MaxPool node_max_pool2d"
    assert all(len(n) <= MAX_LABEL and n.startswith("FusedConv …features.") for n in names[:-1])
    assert [n.split("features.")[1].split("/")[0] for n in names[:-1]] == ["1", "2", "10", "16"]
    texts = _texts(plots.bar_chart(paths, [4.0, 3.0, 2.0, 1.0], "estimated device time by operator", "ms"))
    assert set(names[:-1]) <= set(texts)


def test_the_histogram_names_p50_and_p90_in_a_legend_not_over_the_bars():
    svg = CHARTS["histogram"]()
    legend = _texts(ET.tostring(_group(svg, "legend_1"), encoding="unicode"))
    assert legend == ["p50 14.19 ms", "p90 15 ms"]
    assert {"runs", "ms"} <= set(_texts(svg))


def test_the_scatter_marks_the_pareto_front_and_labels_every_point():
    svg = CHARTS["scatter"]()
    front = plots.pareto_front(POINTS)
    assert [p.label for p in front] == ["executorch-fp32", "tflite-int8"]
    assert _markers(_group(svg, "pareto")) == len(front)
    assert _markers(_group(svg, "dominated")) == len(POINTS) - len(front)
    assert _group(svg, "front").find(f".//{SVG}path") is not None  # the front joined by a line
    texts = _texts(svg)
    assert all(p.label in texts for p in POINTS)
    assert {"on the Pareto front", "dominated", "recommended"} <= set(texts)


def test_pareto_front_keeps_only_undominated_points():
    pts = [plots.Point("a", 1, 90), plots.Point("b", 2, 95), plots.Point("c", 2, 94), plots.Point("d", 3, 95)]
    assert [p.label for p in plots.pareto_front(pts)] == ["a", "b"]


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


def test_labels_of_clustered_points_overlap_neither_each_other_nor_any_marker():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(plots.WIDTH_IN, 4.2), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    cluster = [(f"cell-{i}-int8_dynamic", 1 + 0.02 * i, 95 + 0.05 * (i % 3)) for i in range(10)]
    ax.scatter([x for _, x, _ in cluster], [y for _, _, y in cluster], s=45)
    ax.set_xlim(0, 3)
    ax.set_ylim(90, 100)
    boxes = place_labels(fig, ax, [(label, x, y, 45) for label, x, y in cluster])
    frame = ax.get_window_extent().extents
    assert all(frame[0] <= b[0] and frame[1] <= b[1] and b[2] <= frame[2] and b[3] <= frame[3] for b in boxes)
    assert all(_overlap(a, b) == 0 for a, b in combinations(boxes, 2))
    r = (45**0.5) / 2 * fig.dpi / 72
    centres = [ax.transData.transform((x, y)) for _, x, y in cluster]
    assert all(_overlap(b, (cx - r, cy - r, cx + r, cy + r)) == 0 for b in boxes for cx, cy in centres)
    assert len({t.get_text() for t in ax.texts}) == len(cluster)


def test_no_data_gives_a_small_chart_saying_so():
    assert "no data" in _texts(plots.bar_chart([], [], "artifact size"))
    assert "no samples" in _texts(plots.histogram([], "latency"))
    assert "no points" in _texts(plots.scatter([], "latency vs accuracy", "ms", "%"))
