#!/usr/bin/env python3
"""Runs inside the profiling container (or a `--builder` build step): the steps of one profile.

Standalone like the harness (stdlib only; it runs under the image's python3.11). The host
passes one JSON plan as the only argument:

    {"out": "/out", "steps": [{"name": "timing", "argv": [...], "timeout_s": 600}, ...]}

`{python}` in a step's argv stands for this driver's own interpreter (the image's python3.11,
wherever the image keeps it). Each step runs in turn with its own timeout; its stdout+stderr go to `<out>/<name>.log`,
and `<out>/steps.json` records every step's exit status, wall time and whether it timed out
or could not start (e.g. the x86_64 counting QEMU on a native arm64 builder). A failed step
stops the later ones (unless the step is `optional`). The driver itself always exits 0 so that a `--builder` build still
exports `<out>`: the host reads `steps.json` and decides.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time


def run_step(step: dict, out: str) -> dict:
    """Run one step; return what happened (never raises for the step's own failure)."""
    log_path = os.path.join(out, f"{step['name']}.log")
    argv = [sys.executable if arg == "{python}" else arg for arg in step["argv"]]
    start = time.monotonic()
    result = {"name": step["name"], "returncode": None, "timed_out": False, "error": None}
    with open(log_path, "wb") as log:
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        except OSError as exc:
            result["error"] = f"cannot start {argv[0]}: {exc.strerror or exc}"
            result["wall_s"] = 0.0
            return result
        try:
            result["returncode"] = proc.wait(timeout=float(step["timeout_s"]))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            result["timed_out"] = True
    result["wall_s"] = round(time.monotonic() - start, 3)
    return result


def write_json(path: str, data: object) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle)
    os.replace(tmp, path)


def main(argv: list[str]) -> int:
    plan = json.loads(argv[1])
    out = plan["out"]
    os.makedirs(out, exist_ok=True)
    done: list[dict] = []
    for step in plan["steps"]:
        result = run_step(step, out)
        done.append(result)
        write_json(os.path.join(out, "steps.json"), {"steps": done, "finished": False})
        if result["returncode"] != 0 and not step.get("optional"):
            break
    write_json(os.path.join(out, "steps.json"), {"steps": done, "finished": True})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
