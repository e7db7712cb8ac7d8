"""One bench cell = one format × precision: `edgekit export` then `edgekit profile`, in subprocesses.

Running the real commands keeps every cell's figures identical to what the individual
commands give (the leaderboard reads their manifests), isolates crashes, and lets
cells run in parallel. Each cell keeps its artifact, manifest, profile and logs in its
own folder, with a `cell.json` keyed by a content hash so a re-run reuses it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge_kit import __version__
from edge_kit.errors import EXIT_INTERRUPTED, EXIT_TERMINATED
from edge_kit.fsutil import sha256_file, write_text_atomic
from edge_kit.proc import run as run_child
from edge_kit.registry import get_format

OK, OUTSIDE, FAILED = "ok", "outside", "failed"
ICONS = {OK: "✅", OUTSIDE: "❎", FAILED: "❌"}


@dataclass
class CellSpec:
    """Everything that decides a cell's result (hashed into its cache key)."""

    model: Path
    target: str
    format: str
    precision: str
    export_args: list[str] = field(default_factory=list)  # shared options (calibration, eval, shapes...)
    profile_args: list[str] = field(default_factory=list)
    inputs_to_hash: list[Path] = field(default_factory=list)
    # Host threads for the export's frameworks. Cells export side by side; OpenMP pools that
    # together exceed the cores wait on descheduled threads at every layer: two MobileNetV2 evals
    # on 2 cores took 47 s each instead of 0.5 s. Hashed: calibration histograms sum in a
    # thread-dependent order, which can move a low-margin int8 result.
    host_threads: int = 0

    @property
    def name(self) -> str:
        return f"{self.format}-{self.precision}"

    def key(self) -> str:
        digest = hashlib.sha256(
            json.dumps(
                [
                    __version__,
                    self.target,
                    self.format,
                    self.precision,
                    self.export_args,
                    self.profile_args,
                    self.host_threads,
                ]
            ).encode()
        )
        for path in [self.model, *self.inputs_to_hash]:
            digest.update(sha256_file(path).encode() if path.exists() else str(path).encode())
        return digest.hexdigest()


def _edgekit(args: list[str], log: Path, timeout_s: float, threads: int = 0) -> tuple[int, str]:
    """Run `edgekit ARGS` in a subprocess (with `threads` host threads for torch and TensorFlow
    when given); stderr goes to `log`; returns (exit code, stdout)."""
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    if threads:
        env.update(OMP_NUM_THREADS=str(threads), TF_NUM_INTRAOP_THREADS=str(threads))
    with open(log, "w", encoding="utf-8") as err:
        try:
            proc = run_child([sys.executable, "-m", "edge_kit", *args], stderr=err, timeout=timeout_s, env=env)
        except subprocess.TimeoutExpired:
            err.write(f"edgekit: error: timed out after {timeout_s:.0f} s\n")
            return 124, ""
    if proc.returncode in (EXIT_INTERRUPTED, EXIT_TERMINATED):  # not a result: nothing is recorded
        raise InterruptedError(f"edgekit {args[0]} was interrupted")
    return proc.returncode, proc.stdout


def error_line(log: Path) -> str:
    """The one-line error a failed command printed (or its last line)."""
    lines = log.read_text(encoding="utf-8", errors="replace").strip().splitlines() if log.exists() else []
    errors = [ln.removeprefix("edgekit: error: ") for ln in lines if ln.startswith("edgekit: error: ")]
    return (errors or lines[-1:] or ["no output"])[-1][:300]


def run_cell(
    spec: CellSpec,
    folder: Path,
    *,
    force: bool,
    profile_gate: threading.Semaphore,
    timeout_s: float,
    on_stage: Callable[[str], None],
) -> dict[str, Any]:
    """Export and profile one cell (or reuse its finished result); never raises for cell failures."""
    folder.mkdir(parents=True, exist_ok=True)
    key, record = spec.key(), folder / "cell.json"
    if not force and record.exists():
        cached = json.loads(record.read_text())
        if cached.get("key") == key:
            on_stage("cached")
            return {**cached, "cached": True}
    for stale in folder.iterdir():  # a fresh run starts from an empty cell folder
        shutil.rmtree(stale) if stale.is_dir() else stale.unlink()
    start = time.perf_counter()
    artifact = folder / f"model{get_format(spec.format).suffix}"
    on_stage("exporting")
    code, _ = _edgekit(
        [
            "export",
            str(spec.model),
            "--target",
            spec.target,
            "--format",
            spec.format,
            "--quantize",
            spec.precision,
            "-o",
            str(artifact),
            "--allow-mismatch",
            "--json",
            *spec.export_args,
        ],
        folder / "export.log",
        timeout_s,
        spec.host_threads,
    )
    result: dict[str, Any] = {
        "key": key,
        "cell": spec.name,
        "format": spec.format,
        "precision": spec.precision,
        "artifact": artifact.name,
        "export_exit_code": code,
    }
    if code != 0 and not (code == 6 and artifact.exists()):
        result.update(status=FAILED, reason=error_line(folder / "export.log"))
    else:
        manifest = json.loads(artifact.with_name(artifact.name + ".json").read_text())
        result.update(_judge(manifest))
        on_stage("profiling (waiting)")
        with profile_gate:
            on_stage("profiling")
            pcode, _ = _edgekit(
                [
                    "profile",
                    str(artifact),
                    "--target",
                    spec.target,
                    "--report",
                    str(folder / "profile"),
                    *spec.profile_args,
                ],
                folder / "profile.log",
                timeout_s,
            )
        if pcode != 0:
            result.update(status=FAILED, reason=f"profile: {error_line(folder / 'profile.log')}")
    result["wall_s"] = round(time.perf_counter() - start, 1)
    write_text_atomic(record, json.dumps(result, indent=2) + "\n")
    on_stage(result["status"])
    return result


def _judge(manifest: dict[str, Any]) -> dict[str, Any]:
    """ok / outside (validation mismatch or over the accuracy budget), with the reason."""
    status = manifest.get("status")
    if status == "ok":
        return {"status": OK, "reason": ""}
    reasons = manifest.get("validation", {}).get("reasons") or []
    if status == "over_budget":
        reasons = [f"accuracy drop over budget ({(manifest.get('accuracy') or {}).get('drop')})"]
    return {"status": OUTSIDE, "reason": "; ".join(reasons) or str(status)}
