"""Run one edgekit cell through its CLI, as a user would, and read the JSON manifest.

    edgekit export SRC --format F --quantize P [--calibration random --calibration-samples 8] --json -o OUT
        --sample-inputs <name>.inputs.npz --num-samples 4 [--input-spec NAME=SHAPE:DTYPE ...]

Exit codes per README: 0 ok, 6 written but outside tolerance (mismatch), 4 no conversion path,
anything else failed; the error is the `edgekit: error:` line of stderr.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from benchmarks.zoo.build import Built
from benchmarks.zoo.runtimes import CALIBRATION_SAMPLES

SUFFIX = {"onnx": ".onnx", "tflite": ".tflite", "executorch": ".pte"}
EXIT_NAMES = {
    1: "internal error",
    2: "bad arguments",
    3: "model unreadable",
    4: "no conversion path",
    5: "converter failed",
    6: "outside tolerance",
    7: "data unusable",
    8: "tool missing",
    9: "runtime crashed",
    11: "refused: would run code",
}


@dataclass
class EdgekitResult:
    """One edgekit cell. status: ok | mismatch | failed | nopath (exit 4) | timeout."""

    model: str
    format: str
    precision: str
    status: str
    exit_code: int | None = None
    seconds: float = 0.0
    size_bytes: int | None = None
    max_abs_diff: float | None = None
    cosine: float | None = None
    top1: float | None = None
    reasons: list[str] = field(default_factory=list)
    error: str = ""
    timings_s: dict = field(default_factory=dict)
    command: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def edgekit_binary() -> str:
    """The `edgekit` script of the running venv (bench_zoo runs with the worktree's python)."""
    return str(Path(sys.executable).with_name("edgekit"))


def command(built: Built, fmt: str, precision: str, out: Path, binary: str | None = None) -> list[str]:
    """The export command line for one cell."""
    cmd = [binary or edgekit_binary(), "export", str(built.source), "--format", fmt, "--quantize", precision]
    cmd += ["--json", "-o", str(out), "--sample-inputs", str(built.inputs), "--num-samples", str(built.meta["samples"])]
    if precision == "int8":  # the raw side's calibration count, not the recipe's 200
        cmd += ["--calibration", "random", "--calibration-samples", str(CALIBRATION_SAMPLES)]
    if built.entry.dynamic:  # every input by name: a 0-d input (silero's sample rate) has an empty shape
        for spec in built.entry.inputs:
            values = f"{spec.value:g}" if spec.value is not None else f"{spec.low:g}..{spec.high:g}"
            cmd += ["--input-spec", f"{spec.name}={','.join(map(str, spec.shape))}:{spec.dtype}:{values}"]
    return cmd


def run(
    built: Built, fmt: str, precision: str, folder: Path, timeout: float, binary: str | None = None
) -> EdgekitResult:
    """Export one cell with the CLI and return its typed result (never raises)."""
    out = folder / f"{built.entry.name}.{precision}{SUFFIX[fmt]}"
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = command(built, fmt, precision, out, binary)
    result = EdgekitResult(built.entry.name, fmt, precision, "failed", command=cmd)
    start = time.perf_counter()
    log = out.with_suffix(out.suffix + ".log")
    try:
        with open(log, "w") as err:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True, start_new_session=True)
            try:
                stdout, _ = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate()
                result.status, result.error = "timeout", f"no answer after {timeout:.0f} s"
                return result
    finally:
        result.seconds = round(time.perf_counter() - start, 2)
    result.exit_code = proc.returncode
    _read_manifest(result, stdout)
    if proc.returncode not in (0, 6):
        result.status = "nopath" if proc.returncode == 4 else "failed"
        result.error = _error_line(log.read_text(errors="replace"), proc.returncode)
    return result


def _read_manifest(result: EdgekitResult, stdout: str) -> None:
    try:
        manifest = json.loads(stdout) if stdout.strip() else None
    except json.JSONDecodeError:
        manifest = None
    if not isinstance(manifest, dict):
        return
    validation = manifest.get("validation") or {}
    result.status = validation.get("status") or manifest.get("status") or result.status
    result.size_bytes = (manifest.get("artifact") or {}).get("size_bytes")
    result.max_abs_diff = validation.get("max_abs_diff")
    result.cosine = validation.get("cosine_similarity")
    result.top1 = validation.get("top1_agreement")
    result.reasons = list(validation.get("reasons") or [])
    result.timings_s = manifest.get("timings_s") or {}


def _error_line(stderr: str, code: int) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith(("edgekit: error:", "edgekit: internal error:"))]
    if lines:
        return lines[-1].removeprefix("edgekit: ").removeprefix("error:").strip()[:400]
    tail = [line.strip() for line in stderr.splitlines() if line.strip()]
    name = EXIT_NAMES.get(code, f"exit {code}")
    return f"{name} (exit {code}), no error line: {tail[-1][:300] if tail else 'no output'}"
