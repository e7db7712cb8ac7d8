"""What an emulated target's CPU looks like from inside: `/proc/cpuinfo` and `/sys/.../cpu`.

Runtimes learn the CPU from these files (pytorch/cpuinfo, used by XNNPACK and
onnxruntime, reads the MIDR fields of `/proc/cpuinfo` and the topology and
frequencies under `/sys/devices/system/cpu`) and from the ELF auxiliary vector
(AT_HWCAP), which QEMU fills from its `-cpu` model. Rendering both files from the
target's `cpuinfo` clusters makes the guest pick the kernels the real chip runs.
Under QEMU 7.2, an aarch64 guest reading the host's x86 `/proc/cpuinfo` crashes
onnxruntime with SIGSEGV, so these files are not optional.
"""

from __future__ import annotations

from edge_kit.errors import UsageError
from edge_kit.targets import CpuCluster, Target

# arm64 kernels print 2 x the generic-timer frequency; runtimes ignore the figure.
BOGOMIPS = "108.00"
CPU_ARCHITECTURE = 8


def clusters(target: Target) -> tuple[CpuCluster, ...]:
    """The target's core clusters; a target without them cannot be emulated."""
    if not target.cpuinfo or not target.qemu_cpu:
        raise UsageError(
            f"target '{target.name}' has no emulated CPU description",
            hint="emulated targets need qemu_cpu and [[cpuinfo]] tables in their TOML",
        )
    return target.cpuinfo


def core_count(target: Target) -> int:
    """Cores the guest is shown (the sum of the clusters' counts)."""
    return sum(c.count for c in clusters(target))


def cores(target: Target) -> list[tuple[int, int, CpuCluster]]:
    """(cpu index, cluster index, cluster) for every core, in /proc/cpuinfo order."""
    out, index = [], 0
    for cluster_index, cluster in enumerate(clusters(target)):
        for _ in range(cluster.count):
            out.append((index, cluster_index, cluster))
            index += 1
    return out


def render_cpuinfo(target: Target) -> str:
    """The target's `/proc/cpuinfo`, in the arm64 kernel's own layout."""
    blocks = []
    for index, _, c in cores(target):
        blocks.append(
            f"processor\t: {index}\n"
            f"BogoMIPS\t: {BOGOMIPS}\n"
            f"Features\t: {' '.join(c.features.split())}\n"
            f"CPU implementer\t: {c.implementer}\n"
            f"CPU architecture: {CPU_ARCHITECTURE}\n"
            f"CPU variant\t: {c.variant}\n"
            f"CPU part\t: {c.part}\n"
            f"CPU revision\t: {c.revision}\n"
        )
    return "\n".join(blocks) + "\n"


def midr(cluster: CpuCluster) -> int:
    """The MIDR_EL1 value the cluster's cores report (architecture field 0xf = 'by ID regs')."""
    return (
        int(cluster.implementer, 16) << 24
        | int(cluster.variant, 16) << 20
        | 0xF << 16
        | int(cluster.part, 16) << 4
        | int(cluster.revision, 0)
    )


def _span(first: int, count: int) -> str:
    return f"{first}-{first + count - 1}" if count > 1 else str(first)


def render_sysfs(target: Target) -> dict[str, str]:
    """Files under `sys/devices/system/cpu/` (relative path -> content) for the target."""
    n = core_count(target)
    khz = str(int(round((target.clock_ghz or 1.0) * 1_000_000)))
    files = {
        "possible": _span(0, n),
        "present": _span(0, n),
        "online": _span(0, n),
        "kernel_max": str(max(n - 1, 0)),
        "offline": "",
    }
    firsts: dict[int, int] = {}
    for index, cluster_index, cluster in cores(target):
        first = firsts.setdefault(cluster_index, index)
        siblings = _span(first, cluster.count)
        cpu = f"cpu{index}"
        files.update(
            {
                f"{cpu}/online": "1",
                f"{cpu}/topology/physical_package_id": "0",
                f"{cpu}/topology/cluster_id": str(cluster_index),
                f"{cpu}/topology/core_id": str(index - first),
                f"{cpu}/topology/core_siblings_list": _span(0, n),
                f"{cpu}/topology/package_cpus_list": _span(0, n),
                f"{cpu}/topology/cluster_cpus_list": siblings,
                f"{cpu}/topology/thread_siblings_list": str(index),
                f"{cpu}/topology/core_cpus_list": str(index),
                f"{cpu}/cpufreq/cpuinfo_max_freq": khz,
                f"{cpu}/cpufreq/cpuinfo_min_freq": khz,
                f"{cpu}/cpufreq/scaling_cur_freq": khz,
                f"{cpu}/regs/identification/midr_el1": f"0x{midr(cluster):016x}",
                f"{cpu}/regs/identification/revidr_el1": f"0x{0:016x}",
            }
        )
    return {path: text + "\n" for path, text in files.items()}


def guest_files(target: Target) -> dict[str, str]:
    """Every file a target's view adds on top of the shared root filesystem."""
    files = {"proc/cpuinfo": render_cpuinfo(target)}
    files.update({f"sys/devices/system/cpu/{rel}": text for rel, text in render_sysfs(target).items()})
    return files
