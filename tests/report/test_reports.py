"""Profile and bench reports rendered from real reports of this machine (tests/report/data/, recorded from
`edgekit profile` and `edgekit bench` on the digits sample): self-contained, deterministic, complete."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from edge_kit.benchmark import report as bench_report
from edge_kit.profiler import report as profile_report
from edge_kit.report.labels import shorten_all

DATA = Path(__file__).parent / "data"
SVG = "{http://www.w3.org/2000/svg}"
W3C = {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}


def _load(name: str) -> dict:
    return json.loads((DATA / name).read_text())


def _svgs(page: str) -> list[ET.Element]:
    return [ET.fromstring(m) for m in re.findall(r"<svg .*?</svg>", page, flags=re.S)]


def _texts(svg: ET.Element) -> set[str]:
    return {"".join(t.itertext()) for t in svg.iter(f"{SVG}text")}


def assert_self_contained(page: str) -> None:
    """Opens offline: no URL but the SVG namespaces, no scripts, links, images or fonts to fetch."""
    assert set(re.findall(r"https?://[^\"'\s)<]+", page)) <= W3C
    assert not re.search(r"<(script|link|img|iframe|object|embed)\b", page, flags=re.I)
    assert not re.search(r"@import|@font-face|url\((?!#)", page)
    assert all(ref.startswith("#") for ref in re.findall(r'(?:href|src)="([^"]*)"', page))


def test_profile_report_folder_keeps_the_json_and_draws_every_section(tmp_path: Path):
    report = _load("profile.json")
    profile_report.write_report_dir(report, tmp_path / "out")
    assert json.loads((tmp_path / "out" / "profile.json").read_text()) == report
    page = (tmp_path / "out" / "profile.html").read_text()
    assert_self_contained(page)
    latency, ops, estimated, memory, instructions = _svgs(page)
    assert {"p50 14.19 ms", "p90 14.19 ms"} <= _texts(latency)
    assert set(shorten_all([r["op"] for r in report["ops"]["by_op_type"]])) <= _texts(ops)
    rows, _ = profile_report.estimated_op_rows(report)
    assert set(shorten_all([op for op, _ in rows])) <= _texts(estimated)
    assert {"peak RSS", "bare runtime", "increase over runtime", "model file"} <= _texts(memory)
    assert {k for k, v in report["instructions"]["per_inference"].items() if v} <= _texts(instructions)
    text = (tmp_path / "out" / "profile.md").read_text()
    assert text.startswith("# Profile: model.onnx on raspi4\n") and text.endswith("| Reshape node_view | 0.002 |\n")
    assert f"| p50 | {report['latency']['p50_ms']:.3f} |" in text
    assert f"| neon_fmla | {report['instructions']['per_inference']['neon_fmla']:,.0f} |" in text


def test_profile_html_is_the_same_bytes_every_time():
    report = _load("profile.json")
    assert profile_report.html(report) == profile_report.html(report)


def test_a_profile_without_per_op_figures_says_why_instead_of_a_chart():
    report = _load("profile.json")
    report["ops"] = {"available": False, "note": "per-operator timings not available: LiteRT gives none"}
    report["estimate"] = None
    report["instructions"] = None
    page = profile_report.html(report)
    assert len(_svgs(page)) == 2 and "per-operator timings not available: LiteRT gives none" in page


@pytest.mark.parametrize("name", ["bench.json", "bench_devices.json"])
def test_bench_html_is_self_contained_deterministic_and_plots_every_cell(name: str):
    board = _load(name)
    page = bench_report.html(board)
    assert page == bench_report.html(board)
    assert_self_contained(page)
    scatter, size, memory, *winner = _svgs(page)
    plotted = {r["cell"] for r in board["rows"] if (r.get("accuracy") or {}).get("value") is not None}
    plotted &= {r["cell"] for r in board["rows"] if r.get("estimated_ms") or r.get("emulated_p50_ms")}
    assert plotted and plotted <= _texts(scatter)
    assert any(g.get("id") == "pareto" for g in scatter.iter(f"{SVG}g"))
    assert {r["cell"] for r in board["rows"] if r.get("size_bytes")} <= _texts(size)
    assert {r["cell"] for r in board["rows"] if r.get("peak_memory_kb")} <= _texts(memory)
    assert len(winner) == 1 and f"Per-op breakdown of the winner ({board['recommended']})" in page
    for row in bench_report.table_rows(board, icons=False):
        assert all(cell.replace("&", "&amp;") in page for cell in row if "<" not in cell and '"' not in cell)
    if board.get("devices"):
        assert "<h2>Devices</h2>" in page and "<h2>Estimate vs measured</h2>" in page
        assert all(d["name"] in page for d in board["devices"])


def test_bench_markdown_keeps_its_tables(tmp_path: Path):
    board = _load("bench_devices.json")
    bench_report.write_reports(board, tmp_path)
    text = (tmp_path / "bench.md").read_text()
    assert text.startswith("# edgekit bench: digits_cnn.pt2 on raspi4\n\n**Recommended: tflite-fp32**")
    header = "| " + " | ".join(bench_report.columns(board)) + " |"
    assert header in text and "\n## Devices\n" in text and "\n## Estimate vs measured\n" in text
    assert text.endswith(" |\n") and "\n\n\n" not in text
    assert json.loads((tmp_path / "bench.json").read_text()) == board
