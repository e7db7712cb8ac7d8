"""One bench cell = one format × precision: `edgekit export` then `edgekit profile`, in subprocesses.

Running the real commands keeps every cell's figures identical to what the individual
commands give (the leaderboard reads their manifests), isolates crashes, and lets
cells run in parallel. A cell makes one *attempt* with the path's default recipe (in the
cell's own folder) and, when that falls outside the accuracy budget, the search makes
more (`edge_kit.benchmark.search`, each in `attempts/<variant>/`). Every attempt keeps its
artifact, manifest, profile and logs with an `attempt.json` keyed by a content hash, and the
cell a `cell.json`, so a re-run reuses what is finished.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from edge_kit import __version__
from edge_kit.benchmark.criterion import FAILED, OK, OUTSIDE, Criterion
from edge_kit.benchmark.gate import MeasureGate
from edge_kit.errors import EXIT_INTERRUPTED, EXIT_TERMINATED
from edge_kit.fsutil import sha256_file, write_text_atomic
from edge_kit.proc import run as run_child
from edge_kit.registry import get_format

ICONS = {OK: "✅", OUTSIDE: "❎", FAILED: "❌"}
ATTEMPTS = "attempts"


@dataclass(frozen=True)
class Variant:
    """One way to make a cell's artifact: a recipe (None: the path's default) and, for the
    mixed-precision search, the drop (points) the export's budget search must reach."""

    recipe: str | None = None
    max_drop: float | None = None

    @property
    def slug(self) -> str:
        """The attempt's folder under `attempts/` ('' for the default: the cell's own folder)."""
        if self.recipe is None and self.max_drop is None:
            return ""
        return (self.recipe or "default") + ("+mixed" if self.max_drop is not None else "")

    def args(self) -> list[str]:
        out = ["--recipe", self.recipe] if self.recipe else []
        return out + (["--max-accuracy-drop", f"{self.max_drop:g}"] if self.max_drop is not None else [])


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
    criterion: Criterion = field(default_factory=Criterion)
    search_time: float = 0.0  # seconds the search may take after the first attempt (0: no search)

    @property
    def name(self) -> str:
        return f"{self.format}-{self.precision}"

    def key(self) -> str:
        """The export and profile settings and the inputs' contents: what one attempt depends on."""
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

    def attempt_key(self, variant: Variant) -> str:
        return _hash([self.key(), asdict(variant)])

    def cell_key(self) -> str:
        """The attempts' settings plus how they are judged and whether the search runs."""
        return _hash([self.key(), self.criterion.to_dict(), self.search_time > 0])


def _hash(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def _edgekit(
    args: list[str], log: Path, timeout_s: float, threads: int = 0, extra_env: dict[str, str] | None = None
) -> tuple[int, str]:
    """Run `edgekit ARGS` in a subprocess (with `threads` host threads for torch and TensorFlow
    when given); stderr goes to `log`; returns (exit code, stdout)."""
    env = {**os.environ, "PYTHONHASHSEED": "0", **(extra_env or {})}
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


@dataclass
class Runner:
    """How a cell's attempts run: the shared gate, time limits and progress callback."""

    gate: MeasureGate
    timeout_s: float
    on_stage: Callable[[str], None]
    force: bool = False


def _clear(folder: Path) -> None:
    """Empty an attempt's folder for a fresh run (the cell folder keeps its other attempts)."""
    for stale in folder.iterdir():
        if stale.name != ATTEMPTS:
            shutil.rmtree(stale) if stale.is_dir() else stale.unlink()


def run_attempt(spec: CellSpec, variant: Variant, cell_folder: Path, run: Runner, timeout_s: float) -> dict[str, Any]:
    """Export and profile one variant (or reuse its finished record); never raises for failures."""
    folder = cell_folder / ATTEMPTS / variant.slug if variant.slug else cell_folder
    folder.mkdir(parents=True, exist_ok=True)
    key, record_path = spec.attempt_key(variant), folder / "attempt.json"
    artifact = folder / f"model{get_format(spec.format).suffix}"
    cached = _cached(record_path, key, artifact, run.force)
    if cached is not None:
        return cached
    _clear(folder)
    start = time.perf_counter()
    label = variant.slug or "default recipe"
    run.on_stage(f"exporting ({label})" if variant.slug else "exporting")
    with run.gate.exporting():
        code, _ = _edgekit(
            ["export", str(spec.model), "--target", spec.target, "--format", spec.format]
            + ["--quantize", spec.precision, "-o", str(artifact), "--allow-mismatch", "--json"]
            + spec.export_args
            + variant.args(),
            folder / "export.log",
            timeout_s,
            spec.host_threads,
        )
    record: dict[str, Any] = {
        "key": key,
        "variant": asdict(variant),
        "dir": variant.slug and f"{ATTEMPTS}/{variant.slug}",
        "artifact": artifact.name,
        "export_exit_code": code,
        "status": OK,
        "reason": "",
    }
    if code != 0 and not (code == 6 and artifact.exists()):
        why = error_line(folder / "export.log")
        record.update(
            status=FAILED, reason=why + (" (search time)" if code == 124 and timeout_s < run.timeout_s else "")
        )
    else:
        record.update(_profile(spec, folder, artifact, run, label))
    record["wall_s"] = round(time.perf_counter() - start, 1)
    write_text_atomic(record_path, json.dumps(record, indent=2) + "\n")
    return record


def _cached(record_path: Path, key: str, artifact: Path, force: bool) -> dict[str, Any] | None:
    if force or not record_path.exists():
        return None
    try:
        record = json.loads(record_path.read_text())
    except ValueError:
        return None
    if record.get("key") != key or (record.get("status") != FAILED and not artifact.exists()):
        return None
    if record.get("export_exit_code") == 124:  # stopped by a time limit, not a result: try again
        return None
    return {**record, "cached": True}


def _profile(spec: CellSpec, folder: Path, artifact: Path, run: Runner, label: str) -> dict[str, Any]:
    run.on_stage("profiling (waiting)")
    with run.gate.measuring():
        run.on_stage(f"profiling ({label})" if label != "default recipe" else "profiling")
        pcode, _ = _edgekit(
            ["profile", str(artifact), "--target", spec.target, "--report", str(folder / "profile")]
            + spec.profile_args,
            folder / "profile.log",
            run.timeout_s,
        )
    return {} if pcode == 0 else {"status": FAILED, "reason": f"profile: {error_line(folder / 'profile.log')}"}


def run_cell(spec: CellSpec, folder: Path, run: Runner) -> dict[str, Any]:
    """The cell's first attempt, the search when it is outside the budget, and the variant chosen
    (or the cell's finished result, reused while its key matches)."""
    from edge_kit.benchmark import search

    folder.mkdir(parents=True, exist_ok=True)
    key, record = spec.cell_key(), folder / "cell.json"
    if not run.force and record.exists():
        cached = json.loads(record.read_text())
        if cached.get("key") == key and not search.resume(cached, spec.search_time):
            run.on_stage("cached")
            return {**cached, "cached": True}
    start = time.perf_counter()
    first = run_attempt(spec, Variant(), folder, run, run.timeout_s)
    outcome = search.run(spec, folder, first, lambda v, t: run_attempt(spec, v, folder, run, min(t, run.timeout_s)))
    result: dict[str, Any] = {"key": key, "cell": spec.name, "format": spec.format, "precision": spec.precision}
    result.update(search.choose(outcome, folder, spec.criterion))
    result["wall_s"] = round(time.perf_counter() - start, 1)
    write_text_atomic(record, json.dumps(result, indent=2) + "\n")
    run.on_stage(result["status"])
    return result
