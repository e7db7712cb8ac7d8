"""A real OpenSSH server on 127.0.0.1 whose "devices" are emulated arm64 boards.

One `sshd` listens on one port per device; `Match LocalPort` gives each port a
`ForceCommand` that runs the client's command with that device's HOME, TMPDIR and a
private PATH. The shell tools are the host's, but the device's `python3` runs the arm64
Debian python3.11 under `qemu-aarch64` with the target's CPU model and /proc/cpuinfo:
`uname -m` is aarch64 and the runtimes are the real aarch64 wheels. scp (SFTP) works on
the host filesystem, which the guest reads too. Device kinds:

- arm: python3 with the emulated rootfs's runtimes (numpy, onnxruntime, ai-edge-litert)
- bare: python3 without site-packages (no numpy, no runtimes)
- nopython: no python3 on the PATH
- crash: like arm, but the python segfaults (a real SIGSEGV) as the harness imports its runtime
"""

from __future__ import annotations

import shlex
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SSHD = "/usr/sbin/sshd"
SFTP_SERVER = "/usr/lib/openssh/sftp-server"
TOOLS = ("sh", "mktemp", "rm", "mkdir", "timeout", "cat", "true", "ls", "sleep")
CRASH_HOOK = """import ctypes, sys
def _hook(event, args):
    if event == "import" and args[0] in ("onnxruntime", "ai_edge_litert"):
        ctypes.string_at(0)  # a real SIGSEGV in the emulated arm64 python
sys.addaudithook(_hook)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LoopDevice:
    name: str
    kind: str
    target: str
    port: int
    root: Path

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    @property
    def address(self) -> str:
        return f"root@127.0.0.1:{self.port}"

    def leftovers(self) -> list[str]:
        """Everything the device's TMPDIR and HOME hold, except a provisioned runtime folder."""
        found = [str(p.relative_to(self.root)) for p in self.tmp.rglob("*")]
        kept = (".cache", ".cache/edgekit-device")
        found += [
            str(p.relative_to(self.root))
            for p in self.home.rglob("*")
            if str(p.relative_to(self.home)) not in kept
            and not str(p.relative_to(self.home)).startswith(".cache/edgekit-device/")
        ]
        return sorted(found)


class Loopback:
    """Keys, an sshd config with one port per device, and the files ssh clients need."""

    def __init__(self, root: Path, devices: dict[str, tuple[str, str]]) -> None:
        self.root = root
        self.devices = {
            name: LoopDevice(name, kind, target, free_port(), root / "devices" / name)
            for name, (kind, target) in devices.items()
        }
        self.proc: subprocess.Popen[bytes] | None = None
        for key in ("host_key", "user_key", "wrong_key"):
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", key, "-f", str(root / key)],
                check=True,
                timeout=30,
            )
        (root / "authorized_keys").write_text((root / "user_key.pub").read_text())
        host = (root / "host_key.pub").read_text().split()[:2]
        (root / "known_hosts").write_text(
            "".join(f"[127.0.0.1]:{d.port} {' '.join(host)}\n" for d in self.devices.values())
        )
        (root / "empty_known_hosts").write_text("")
        (root / "ssh_config").write_text("# isolated from ~/.ssh/config and /etc/ssh/ssh_config\n")
        for device in self.devices.values():
            self._make_device(device)
        (root / "sshd_config").write_text(self._sshd_config())

    def _make_device(self, device: LoopDevice) -> None:
        bin_dir = device.root / "bin"
        for folder in (bin_dir, device.home, device.tmp):
            folder.mkdir(parents=True)
        for tool in TOOLS:
            (bin_dir / tool).symlink_to(
                subprocess.run(
                    ["sh", "-c", f"command -v {tool}"], capture_output=True, text=True, check=True
                ).stdout.strip()
            )
        if device.kind != "nopython":
            (bin_dir / "python3").write_text(self._python_wrapper(device))
            (bin_dir / "python3").chmod(0o755)
        login = device.root / "login.sh"
        login.write_text(
            "#!/bin/sh\n"
            f"export HOME={shlex.quote(str(device.home))} TMPDIR={shlex.quote(str(device.tmp))} "
            f"PATH={shlex.quote(str(bin_dir))} LANG=C.UTF-8\n"
            '[ -n "$SSH_ORIGINAL_COMMAND" ] || exit 1\n'
            'exec /bin/sh -c "$SSH_ORIGINAL_COMMAND"\n'
        )
        login.chmod(0o755)

    def _python_wrapper(self, device: LoopDevice) -> str:
        from edge_kit.emulation.environment import guest_environment

        argv = guest_environment(device.target).command(["/usr/bin/python3.11"])
        lines = ["#!/bin/sh"]
        if device.kind == "bare":
            argv.append("-S")  # no site-packages: numpy and the runtimes are missing
        if device.kind == "crash":
            hook = device.root / "crash"
            hook.mkdir()
            (hook / "sitecustomize.py").write_text(CRASH_HOOK)
            lines.append(f'export PYTHONPATH={shlex.quote(str(hook))}"${{PYTHONPATH:+:$PYTHONPATH}}"')
        return "\n".join(lines + [f'exec {shlex.join(argv)} "$@"']) + "\n"

    def _sshd_config(self) -> str:
        root = self.root
        lines = [
            "ListenAddress 127.0.0.1",
            *(f"Port {d.port}" for d in self.devices.values()),
            f"HostKey {root / 'host_key'}",
            f"PidFile {root / 'sshd.pid'}",
            f"AuthorizedKeysFile {root / 'authorized_keys'}",
            "PermitRootLogin prohibit-password",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "StrictModes no",
            "UsePAM no",
            "MaxStartups 50:30:100",
            "LogLevel VERBOSE",
            f"Subsystem sftp {SFTP_SERVER}",
        ]
        for device in self.devices.values():
            lines += [f"Match LocalPort {device.port}", f"    ForceCommand {device.root / 'login.sh'}"]
        return "\n".join(lines) + "\n"

    def start(self) -> None:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation folder
        config = str(self.root / "sshd_config")
        subprocess.run([SSHD, "-t", "-f", config], check=True, timeout=30)
        log = open(self.root / "sshd.log", "wb")
        self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", config], stdout=log, stderr=log)
        deadline = time.monotonic() + 15
        for device in self.devices.values():
            while True:
                try:
                    socket.create_connection(("127.0.0.1", device.port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline or self.proc.poll() is not None:
                        raise RuntimeError(
                            f"sshd did not start: {(self.root / 'sshd.log').read_text()[-2000:]}"
                        ) from None
                    time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def inventory(
        self,
        path: Path,
        names: list[str] | None = None,
        *,
        known_hosts: str = "known_hosts",
        identity: str = "user_key",
        groups: dict[str, list[str]] | None = None,
    ) -> Path:
        """A devices.toml for some of the devices, pointing ssh at this server's own files."""
        lines = [
            "[ssh]",
            f'config = "{self.root / "ssh_config"}"',
            f'known_hosts = "{self.root / known_hosts}"',
            f'identity = "{self.root / identity}"',
            "connect_timeout = 5",
            "",
        ]
        for name in names or list(self.devices):
            device = self.devices[name]
            member = [g for g, members in (groups or {}).items() if name in members]
            lines += [
                f"[devices.{name}]",
                f'address = "{device.address}"',
                f'target = "{device.target}"',
                "concurrency = 1",
                f"groups = {member!r}".replace("'", '"'),
                "",
            ]
        path.write_text("\n".join(lines) + "\n")
        return path
