"""The in-container driver, run here with the host's python: steps, logs, timeouts, optional steps."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from edge_kit.docker import driver


def _run(tmp_path: Path, steps: list[dict]) -> dict:
    assert driver.main(["driver.py", json.dumps({"out": str(tmp_path), "steps": steps})]) == 0
    return json.loads((tmp_path / "steps.json").read_text())


def test_steps_run_in_order_with_their_logs_and_python_placeholder(tmp_path: Path):
    code = "import sys; print(sys.executable); sys.exit(0)"
    done = _run(tmp_path, [{"name": "a", "argv": ["{python}", "-c", code], "timeout_s": 60}])
    assert done["finished"] and done["steps"][0]["returncode"] == 0
    assert (tmp_path / "a.log").read_text().strip() == sys.executable


def test_a_failed_step_stops_the_rest_but_an_optional_one_does_not(tmp_path: Path):
    steps = [
        {"name": "probe", "argv": ["/nonexistent/ld.so", "--version"], "timeout_s": 5, "optional": True},
        {"name": "timing", "argv": [sys.executable, "-c", "raise SystemExit(3)"], "timeout_s": 60},
        {"name": "count", "argv": [sys.executable, "-c", "pass"], "timeout_s": 60},
    ]
    done = _run(tmp_path, steps)["steps"]
    assert [s["name"] for s in done] == ["probe", "timing"]
    assert done[0]["returncode"] is None and "cannot start /nonexistent/ld.so" in done[0]["error"]
    assert done[1]["returncode"] == 3


def test_a_step_past_its_timeout_is_killed_and_recorded(tmp_path: Path):
    done = _run(
        tmp_path, [{"name": "timing", "argv": [sys.executable, "-c", "import time; time.sleep(60)"], "timeout_s": 0.5}]
    )
    step = done["steps"][0]
    assert step["timed_out"] and step["wall_s"] < 30
