"""The instruction-counting QEMU, carried into the profiling image so counts are taken in the container.

binfmt_misc runs arm64 programs in a container with `qemu-aarch64-static`, which cannot load
TCG plugins. The image therefore also holds the host's dynamic `qemu-aarch64` (the one the
qemu backend counts with), every shared library it loads (from `ldd`, its own ELF loader
included) and edgekit's plugin, under `/opt/edgekit/qemu/`. The count step starts that loader
by path (`ld-linux-x86-64.so.2 --library-path /opt/edgekit/qemu/lib qemu-aarch64 -plugin ...
python3.11 harness ...`): a host-architecture program the kernel runs natively in the
container, which emulates the container's own arm64 python exactly as the qemu backend does.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from edge_kit.emulation.plugin import ensure_plugin, plugin_args, qemu_info
from edge_kit.errors import EnvironmentSetupError
from edge_kit.targets import Target

GUEST_QEMU = "/opt/edgekit/qemu"
GUEST_VIEW = "/opt/edgekit/view"


def _ldd(binary: Path) -> tuple[Path, dict[str, Path]]:
    """(ELF loader, {soname: resolved path}) of a dynamic executable."""
    proc = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, timeout=60, check=False)
    loader, libs = None, {}
    for line in proc.stdout.splitlines():
        words = line.split()
        if len(words) >= 3 and words[1] == "=>" and words[2].startswith("/"):
            libs[words[0]] = Path(words[2]).resolve()
        elif words and words[0].startswith("/"):
            loader = Path(words[0])
    if proc.returncode != 0 or loader is None:
        raise EnvironmentSetupError(
            f"cannot list the libraries of {binary} (ldd: {proc.stderr.strip()[:200] or proc.returncode})",
            hint="apt-get install --reinstall qemu-user libc-bin",
        )
    return loader, libs


def loader_name() -> str:
    """File name of the dynamic qemu-aarch64's ELF loader (e.g. ld-linux-x86-64.so.2)."""
    return _ldd(qemu_info().binary)[0].name


def counting_files() -> dict[str, Path]:
    """Paths under /opt/edgekit/ -> host files: qemu-aarch64, its libraries and loader, the plugin."""
    binary = qemu_info().binary
    loader, libs = _ldd(binary)
    files = {"qemu/qemu-aarch64": binary.resolve(), "qemu/libinsncount.so": ensure_plugin()}
    files[f"qemu/lib/{loader.name}"] = loader.resolve()
    files.update({f"qemu/lib/{name}": path for name, path in libs.items()})
    return files


def counting_argv(target: Target, guest_argv: list[str], counts_path: str) -> list[str]:
    """The command, inside the container, that runs `guest_argv` (an arm64 program) under the counting QEMU."""
    qemu = [
        f"{GUEST_QEMU}/lib/{loader_name()}",
        "--library-path",
        f"{GUEST_QEMU}/lib",
        f"{GUEST_QEMU}/qemu-aarch64",
        "-L",
        GUEST_VIEW,
        "-cpu",
        target.qemu_cpu,
    ]
    if target.memory_mb:
        qemu += ["-R", str(int(target.memory_mb) << 20)]
    return qemu + plugin_args(Path(f"{GUEST_QEMU}/libinsncount.so"), Path(counts_path)) + guest_argv
