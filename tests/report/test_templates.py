"""jinja2 templates: strict (a missing value raises), escaped only where markup is made, all shipped."""

from __future__ import annotations

import fnmatch
import tomllib

import pytest

from edge_kit.errors import EdgeKitError
from edge_kit.packager.base import TEMPLATES as PACKAGE
from edge_kit.profiler.report import TEMPLATES as PROFILE
from edge_kit.report.templates import Templates, number
from tests.conftest import ROOT

REPORTS = Templates("edge_kit.report")


def test_a_missing_variable_raises_instead_of_rendering_empty():
    with pytest.raises(EdgeKitError, match=r"page\.html\.j2.*'title' is undefined"):
        REPORTS.render("page.html.j2")
    with pytest.raises(EdgeKitError, match="'wheel' is undefined"):
        PACKAGE.render(
            "linux/Dockerfile.j2",
            name="digits",
            version="1.0.0",
            format="onnx",
            runtime="ONNX Runtime",
            edgekit_version="0.1.0",
            docker_platform="linux/arm64",
            package="digits_model",
            generative=False,
        )


def test_a_missing_attribute_of_a_given_value_raises_too():
    with pytest.raises(EdgeKitError, match="has no attribute 'file'"):
        PROFILE.render(
            "profile.md.j2",
            r={"artifact": {}},
            estimate="",
            latency="",
            instructions=[],
            ops=[],
            ops_note="",
            estimated_ops=[],
            method="",
        )


def test_an_unknown_template_is_an_internal_error():
    with pytest.raises(EdgeKitError, match=r"internal: template .*no_such\.kt\.j2"):
        PACKAGE.render("android/no_such.kt.j2")


def test_html_is_escaped_and_code_is_not():
    page = REPORTS.render("page.html.j2", title='<script>alert("x")</script>')
    assert "<script>" not in page and "&lt;script&gt;" in page
    init = PACKAGE.render(
        "linux/__init__.py.j2",
        name="a<b",
        version="1.0.0",
        edgekit_version="0.1.0",
        model_file="m.onnx",
        metadata_file="m.json",
        format="onnx",
        precision="fp32",
        runtime="ONNX Runtime",
        package="a_model",
    )
    assert '"""a<b 1.0.0' in init and "&lt;" not in init


def test_filters_write_kotlin_and_swift_literals():
    kt = PACKAGE.environment.from_string(
        '{{ names | map("kotlin") | join(", ") }} {{ shape | kotlin_longs }} '
        "{{ mean | kotlin_floats }} {{ 0.5 | kotlin }}"
    )
    assert kt.render(names=['a"$b'], shape=[1, 3], mean=[0.5]) == '"a\\"\\$b" longArrayOf(1, 3) floatArrayOf(0.5f) 0.5f'
    swift = PACKAGE.environment.from_string("{{ shapes | swift }} {{ names | swift }}")
    assert swift.render(shapes=[[1, 10]], names=['a"$b']) == '[[1, 10]] ["a\\"$b"]'


def test_number_formats_numbers_only():
    assert number(0.1234, ".2f") == "0.12" and number(None, ".2f") == "n/a" and number("x", ".2f", "—") == "—"
    assert number(True, "d") == "n/a"


def test_every_template_is_package_data_of_the_wheel():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    for package in ("edge_kit.packager", "edge_kit.report"):
        folder = ROOT / package.replace(".", "/")
        shipped = [p for p in (folder / "templates").rglob("*") if p.is_file()]
        assert shipped
        for path in shipped:
            relative = path.relative_to(folder).as_posix()
            assert any(
                fnmatch.fnmatch(relative, glob) and relative.count("/") == glob.count("/") for glob in data[package]
            ), relative
