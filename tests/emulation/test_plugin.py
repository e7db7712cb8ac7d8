"""The instruction-counting QEMU plugin on real emulated programs.

Small static aarch64 programs (tests/emulation/programs/*.c, cross-compiled per
session; no root filesystem needed) run under qemu-aarch64 with the plugin that
`ensure_plugin()` builds and caches.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import uuid
from pathlib import Path

import pytest

from edge_kit.emulation.plugin import InsnCounts, ensure_plugin, plugin_args, read_counts
from edge_kit.errors import RuntimeFailure

QEMU, CROSS_CC = "qemu-aarch64", "aarch64-linux-gnu-gcc"
PROGRAMS = Path(__file__).parent / "programs"
BUILD_FLAGS = {
    "loop": [],
    "ops": [],
    "hwcap": [],
    "snippets": [],
    "threads": ["-pthread"],
    "dot": ["-march=armv8.2-a+dotprod"],
}

pytestmark = pytest.mark.skipif(
    shutil.which(QEMU) is None or shutil.which(CROSS_CC) is None,
    reason=f"needs {QEMU} (apt-get install qemu-user) and {CROSS_CC} (gcc-aarch64-linux-gnu)",
)


@pytest.fixture(scope="session")
def plugin() -> Path:
    return ensure_plugin()


@pytest.fixture(scope="session")
def programs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every test program, built static with the aarch64 cross compiler."""
    out = tmp_path_factory.mktemp("aarch64-programs")
    built = {}
    for name, flags in BUILD_FLAGS.items():
        built[name] = out / name
        subprocess.run(
            [CROSS_CC, "-static", "-O2", f"-I{PROGRAMS}", *flags, str(PROGRAMS / f"{name}.c"), "-o", str(built[name])],
            check=True,
            timeout=300,
        )
    return built


def emulate(
    plugin: Path, program: Path, *args: str, cpu: str, work: Path
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Run `program` under qemu-aarch64 with the plugin (cwd `work`: any core file lands there)."""
    out = work / f"counts-{uuid.uuid4().hex[:8]}.json"
    proc = subprocess.run(
        [QEMU, "-cpu", cpu, *plugin_args(plugin, out), str(program), *args],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return proc, out


def counted(plugin: Path, program: Path, *args: str, cpu: str = "cortex-a76", work: Path) -> InsnCounts:
    proc, out = emulate(plugin, program, *args, cpu=cpu, work=work)
    assert proc.returncode == 0, proc.stderr
    return read_counts(out)


def spread(values: list[int]) -> float:
    return (max(values) - min(values)) / max(values)


def test_counts_scale_exactly_with_loop_length(plugin: Path, programs: dict[str, Path], tmp_path: Path) -> None:
    runs = {n: counted(plugin, programs["loop"], str(n), "3", work=tmp_path) for n in (1000, 2000, 4000)}
    for n, counts in runs.items():
        assert counts.regions == 3 and counts.open_regions == 0
        extra = {k: counts.per_inference[k] - runs[1000].per_inference[k] for k in counts.classes}
        # The loop body is add + subs + b.ne: 2 scalar_int + 1 branch per iteration.
        assert extra == {k: {"scalar_int": 2 * (n - 1000), "branch": n - 1000}.get(k, 0) for k in counts.classes}
        assert counts.total == counts.inside_total + counts.outside_total


def test_outside_counts_exclude_regions(plugin: Path, programs: dict[str, Path], tmp_path: Path) -> None:
    # Same-length arguments and printed result, so only the pre-region loop differs.
    short = counted(plugin, programs["loop"], "1000", "1", "1500", work=tmp_path)
    long = counted(plugin, programs["loop"], "1000", "1", "2500", work=tmp_path)
    assert long.inside == short.inside
    extra = {k: long.outside[k] - short.outside[k] for k in long.classes}
    assert extra == {k: {"scalar_int": 2000, "branch": 1000}.get(k, 0) for k in long.classes}


def test_counts_repeat_run_to_run(plugin: Path, programs: dict[str, Path], tmp_path: Path) -> None:
    totals = [counted(plugin, programs["loop"], "100000", work=tmp_path).inside_total for _ in range(5)]
    assert spread(totals) <= 0.001, totals
    assert totals[0] >= 300000


def test_operator_segments(plugin: Path, programs: dict[str, Path], tmp_path: Path) -> None:
    proc, out = emulate(plugin, programs["ops"], "2", cpu="cortex-a76", work=tmp_path)
    assert proc.returncode == 0, proc.stderr
    counts, raw = read_counts(out), json.loads(out.read_text())
    assert counts.regions == 2 and counts.operator_markers == {0: 2, 1: 2}
    assert counts.operators[1]["branch"] - counts.operators[0]["branch"] == 2 * 1000
    for name in counts.classes:
        assert counts.inside[name] == raw["inside_unsegmented"][name] + sum(
            seg[name] for seg in counts.operators.values()
        )


def test_dotprod_counted_on_a76_and_illegal_on_a72(plugin: Path, programs: dict[str, Path], tmp_path: Path) -> None:
    counts = counted(plugin, programs["dot"], cpu="cortex-a76", work=tmp_path)
    assert counts.per_inference["dotprod"] == 4096 / 16  # one SDOT per 16 int8 pairs
    proc, out = emulate(plugin, programs["dot"], cpu="cortex-a72", work=tmp_path)
    assert proc.returncode == -signal.SIGILL, proc.stderr
    with pytest.raises(RuntimeFailure, match="no instruction counts"):
        read_counts(out)


def test_hwcap_dispatch_follows_the_cpu_model(plugin: Path, programs: dict[str, Path], tmp_path: Path) -> None:
    runs = {}
    for cpu in ("cortex-a76", "cortex-a72"):
        proc, out = emulate(plugin, programs["hwcap"], cpu=cpu, work=tmp_path)
        assert proc.returncode == 0, proc.stderr
        runs[cpu] = (proc.stdout.split(), read_counts(out).per_inference)
    (path76, sum76), a76 = runs["cortex-a76"]
    (path72, sum72), a72 = runs["cortex-a72"]
    assert (path76, path72) == ("sdot", "mlal") and sum76 == sum72
    assert a76["dotprod"] == 256 and a76["neon_int_mac"] == 0
    assert a72["dotprod"] == 0 and a72["neon_int_mac"] == 2 * 256  # SMLAL2 + SADALP
    assert a72["neon_int"] > a76["neon_int"]  # SMULL


def test_threads_counted_per_vcpu_and_summed_exactly(plugin: Path, programs: dict[str, Path], tmp_path: Path) -> None:
    totals = []
    for _ in range(3):
        counts = counted(plugin, programs["threads"], "4", work=tmp_path)
        threads = counts.per_thread_inside
        assert len(threads) == 5  # main + 4 workers
        for name in counts.classes:
            assert counts.inside[name] == sum(t[name] for t in threads)
        branches = sorted(t["branch"] for t in threads[1:])
        for i, got in enumerate(branches):
            assert 50000 * (i + 1) <= got <= 50000 * (i + 1) + 2000
        totals.append(counts.inside_total)
    assert spread(totals) <= 0.001, totals


SNIPPETS = {
    "neon_fp": {"neon_fp": 5},
    "neon_fmla": {"neon_fmla": 4},
    "neon_int": {"neon_int": 4},
    "neon_int_mac": {"neon_int_mac": 3},
    "fp_scalar": {"fp_scalar": 3},
    "simd_ldst": {"simd_load": 3, "simd_store": 2},
    "gpr_ldst": {"load": 2, "store": 2},
    "branches": {"branch": 2, "scalar_int": 1},
    "dotprod": {"dotprod": 3},
    "mmla": {"mmla": 4},
    "sve": {"sve": 2},
}


@pytest.fixture(scope="module")
def empty_snippet(plugin: Path, programs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> InsnCounts:
    return counted(plugin, programs["snippets"], "empty", cpu="max", work=tmp_path_factory.mktemp("snippets"))


@pytest.mark.parametrize("name", sorted(SNIPPETS))
def test_hand_written_snippets_classified_exactly(
    name: str, plugin: Path, programs: dict[str, Path], empty_snippet: InsnCounts, tmp_path: Path
) -> None:
    counts = counted(plugin, programs["snippets"], name, cpu="max", work=tmp_path)
    extra = {k: counts.inside[k] - empty_snippet.inside[k] for k in counts.classes}
    assert extra == {k: SNIPPETS[name].get(k, 0) for k in counts.classes}


def test_unwritable_counts_path_is_reported(plugin: Path, programs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "missing-folder" / "counts.json"
    proc = subprocess.run(
        [QEMU, *plugin_args(plugin, out), str(programs["loop"]), "10"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0 and "cannot open the counts file" in proc.stderr
    with pytest.raises(RuntimeFailure, match="no instruction counts"):
        read_counts(out)


def test_no_region_means_no_per_inference_figures(plugin: Path, programs: dict[str, Path], tmp_path: Path) -> None:
    proc, out = emulate(plugin, programs["snippets"], "no-such-snippet", cpu="max", work=tmp_path)
    assert proc.returncode == 2  # exits before any marker, normally
    counts = read_counts(out)
    assert counts.regions == 0 and counts.inside_total == 0 and counts.outside_total > 0
    with pytest.raises(RuntimeFailure, match="no measured region"):
        _ = counts.per_inference
