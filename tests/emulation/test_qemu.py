"""Running programs in the emulated guest: what it sees, and how failures come back.

Real QEMU, real arm64 rootfs (built once into the edgekit cache, then reused).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from edge_kit.emulation.environment import GuestEnvironment, doctor, guest_environment
from edge_kit.errors import RuntimeFailure
from edge_kit.targets import get_target

pytestmark = [
    pytest.mark.timeout(900),
    pytest.mark.skipif(
        not (shutil.which("qemu-aarch64") and shutil.which("mmdebstrap")),
        reason="needs apt packages qemu-user and mmdebstrap",
    ),
]

HWCAP_ASIMD, HWCAP_FPHP, HWCAP_ASIMDDP = 1 << 1, 1 << 9, 1 << 20

PROBE = """
import json, os, platform, struct
hw = {}
data = open('/proc/self/auxv', 'rb').read()
for i in range(0, len(data), 16):
    key, value = struct.unpack_from('<QQ', data, i)
    hw[key] = value
parts = sorted({l.split(':')[1].strip() for l in open('/proc/cpuinfo') if l.startswith('CPU part')})
print(json.dumps({'machine': platform.machine(), 'parts': parts, 'cpu_count': os.cpu_count(),
                  'hwcap': hw.get(16, 0), 'executable': __import__('sys').executable}))
"""


@pytest.fixture(scope="module")
def raspi4() -> GuestEnvironment:
    return guest_environment("raspi4")


def _probe(target: str) -> dict:
    import json

    return json.loads(guest_environment(target).run_python(["-c", PROBE], timeout_s=120).stdout)


@pytest.mark.parametrize(
    "target,part,cores", [("raspi4", "0xd08", 4), ("raspi5", "0xd0b", 4), ("android-arm64", "0x804", 8)]
)
def test_guest_sees_the_target_cpu(target: str, part: str, cores: int) -> None:
    seen = _probe(target)
    assert seen["machine"] == "aarch64"
    assert part in seen["parts"]
    assert seen["cpu_count"] == cores  # from the view's /sys/devices/system/cpu/online
    assert seen["executable"] == "/usr/bin/python3.11"
    assert seen["hwcap"] & HWCAP_ASIMD


def test_isa_follows_the_cpu_model() -> None:
    """QEMU's -cpu fills AT_HWCAP: dot product and fp16 on the A76, not on the A72."""
    a72, a76 = _probe("raspi4")["hwcap"], _probe("raspi5")["hwcap"]
    assert not a72 & HWCAP_ASIMDDP and not a72 & HWCAP_FPHP
    assert a76 & HWCAP_ASIMDDP and a76 & HWCAP_FPHP


def test_guest_reads_and_writes_host_paths(raspi4: GuestEnvironment, tmp_path: Path) -> None:
    (tmp_path / "in.txt").write_text("from the host")
    code = f"data = open('{tmp_path}/in.txt').read()\nopen('{tmp_path}/out.txt', 'w').write(data.upper())"
    raspi4.run_python(["-c", code], timeout_s=60)
    assert (tmp_path / "out.txt").read_text() == "FROM THE HOST"


def test_hang_becomes_a_timeout_and_kills_the_group(raspi4: GuestEnvironment, tmp_path: Path) -> None:
    code = (
        f"import os, time\npid = os.fork()\n"
        f"open('{tmp_path}/pid-' + ('child' if pid == 0 else 'parent'), 'w').write(str(os.getpid()))\n"
        "import sys\nif pid: print('edgekit-stage: loading stuck.onnx', file=sys.stderr, flush=True)\n"
        "time.sleep(1000)"
    )
    start = time.monotonic()
    with pytest.raises(RuntimeFailure) as info:
        raspi4.run_python(["-c", code], timeout_s=8)
    assert time.monotonic() - start < 30
    assert info.value.message == "the emulated program timed out after 8 s while loading stuck.onnx"
    time.sleep(0.5)
    for name in ("pid-parent", "pid-child"):
        pid = int((tmp_path / name).read_text())
        stat = Path(f"/proc/{pid}/stat")
        assert not stat.exists() or stat.read_text().split(")")[1].split()[0] == "Z", name


def test_crash_names_the_signal_and_what_it_was_doing(raspi4: GuestEnvironment, tmp_path: Path) -> None:
    code = (
        "import os, signal, sys\n"
        "print('edgekit-stage: loading model.onnx', file=sys.stderr, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGSEGV)"
    )
    with pytest.raises(RuntimeFailure) as info:
        raspi4.run_python(["-c", code], timeout_s=60, what="the emulated runtime")
    assert info.value.message == "the emulated runtime crashed with SIGSEGV while loading model.onnx"
    assert "\n" not in info.value.one_line()
    assert info.value.exit_code == 9


def test_crash_leaves_no_core_file_in_the_working_folder(raspi4: GuestEnvironment, tmp_path: Path) -> None:
    from edge_kit.emulation.qemu import run_guest

    with pytest.raises(RuntimeFailure, match="SIGSEGV"):
        run_guest(
            [raspi4.python, "-c", "import ctypes; ctypes.string_at(0)"],
            view=raspi4.view,
            cpu=raspi4.cpu,
            timeout_s=60,
            cwd=tmp_path,
        )
    assert list(tmp_path.iterdir()) == []


def test_nonzero_exit_carries_the_last_error_line(raspi4: GuestEnvironment) -> None:
    code = "import sys; print('boom: the model is bad', file=sys.stderr); sys.exit(3)"
    with pytest.raises(RuntimeFailure) as info:
        raspi4.run_python(["-c", code], timeout_s=60)
    assert info.value.message == "the emulated program failed with exit code 3: boom: the model is bad"
    result = raspi4.run_python(["-c", code], timeout_s=60, check=False)
    assert result.returncode == 3


def test_memory_is_capped_at_the_target_ram() -> None:
    small = get_target("raspi4").model_copy(update={"memory_mb": 512})
    env = guest_environment(small)
    ok = env.run_python(["-c", "import numpy as np; a = np.ones(100 << 17); print(a.nbytes >> 20)"], timeout_s=60)
    assert ok.stdout.strip() == "100"
    with pytest.raises(RuntimeFailure) as info:
        env.run_python(["-c", "import numpy as np; a = np.ones(1 << 27)"], timeout_s=60)
    assert "ran out of memory" in info.value.message and "512 MB" in info.value.message
    assert "-R" in env.command([env.python]) and str(512 << 20) in env.command([env.python])


def test_doctor_reports_each_check_with_a_fix() -> None:
    checks = {c.name: c for c in doctor("raspi4")}
    assert {"qemu-aarch64", "mmdebstrap", "apt sources", "arm64 rootfs", "disk space"} <= set(checks)
    assert checks["qemu-aarch64"].ok and checks["arm64 rootfs"].ok
    for check in checks.values():
        assert check.ok or check.fix, check


def test_qemu_does_not_see_the_host_python_environment(
    raspi4: GuestEnvironment, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", "/nonexistent-host-path")
    out = raspi4.run_python(
        ["-c", "import os, sys; print(os.environ.get('PYTHONHASHSEED'), '/nonexistent-host-path' in sys.path)"],
        timeout_s=60,
    ).stdout
    assert out.split() == ["0", "False"]
