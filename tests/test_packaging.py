"""The wheel ships every subpackage and every data file (targets, recipes, templates, sources)."""

from __future__ import annotations

import tomllib

from tests.conftest import ROOT


def test_every_edge_kit_package_is_listed_in_pyproject():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "edge_kit").rglob("__init__.py")}
    assert found <= listed, sorted(found - listed)
    assert {"edge_kit.targets_data", "edge_kit.recipes_data"} <= listed


def test_data_folders_ship_as_packages():
    from importlib import resources

    targets = {p.name for p in resources.files("edge_kit.targets_data").iterdir()}
    recipes = {p.name for p in resources.files("edge_kit.recipes_data").iterdir()}
    assert "raspi4.toml" in targets and any(name.endswith(".toml") for name in recipes)
    harness = {p.name for p in resources.files("edge_kit.harness").iterdir()}
    assert {"edgekit_harness.py", "harness_runtimes.py", "et_runtime.py"} <= harness
    emulation = {p.name for p in resources.files("edge_kit.emulation").iterdir()}
    assert {"insncount.c", "et_shim.cpp"} <= emulation


def test_readme_leads_with_the_two_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text().splitlines()
    block = readme[readme.index("```bash") + 1 : readme.index("```bash") + 3]
    assert block[0].startswith("make demo") and block[1].startswith("make test")
    ci = (ROOT / ".ci" / "run").read_text()
    assert "\nmake test\n" in ci
