"""The SSH backend: the harness on a real board, over the system `ssh`/`scp`.

One run: (1) a probe finds the device's python3, its architecture and runtimes and makes a
private work folder (`mktemp -d`); (2) the harness, the artifact (and inputs, the
ExecuTorch runtime) are copied there with scp; (3) the harness runs under the device's own
`timeout`, its JSON report comes back on stdout, and a shell trap removes the folder; a
`finally` removes it again when a step failed before that. Missing Python or runtimes
stop at step 1 with the exact install command (or `--provision`, see `provision.py`).
The report has the same schema as the emulated backends', with `latency.kind = measured`.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import signal
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_kit import progress
from edge_kit.devices import Device
from edge_kit.errors import DeviceError, RuntimeFailure
from edge_kit.profiler import provision
from edge_kit.profiler.backends import Backend, HarnessRun, harness_error, needs_et_shim
from edge_kit.remote import SSH_FAILED, RemoteResult, SshClient
from edge_kit.targets import Target

PROBE_TIMEOUT_S = 90.0
CLEANUP_TIMEOUT_S = 30.0
INSTALL_TIMEOUT_S = 600.0
MIN_PYTHON = (3, 8)
_WORKDIR = re.compile(r"^/[A-Za-z0-9._/-]*/edgekit\.[A-Za-z0-9]{10}$")
_TIMEOUT_RC = 124  # coreutils `timeout` on the device
_CD_FAILED = 96

# Runs on the device under its python3 (stdlib only, Python >= 3.8); prints one JSON line.
PROBE_PY = r"""
import json, os, sys
try:
    from importlib import metadata
except ImportError:
    metadata = None
NAMES = ("numpy", "onnxruntime", "ai-edge-litert")
def version(name, path=None):
    try:
        if path is None:
            return metadata.version(name)
        for dist in metadata.distributions(name=name, path=[path]):
            return dist.version
    except Exception:
        return None
u = os.uname()
tag = "cp%d%d-%s" % (sys.version_info[0], sys.version_info[1], u.machine)
private = os.path.join(os.path.expanduser("~"), ".cache", "edgekit-device", sys.argv[1] + "-" + tag)
ready = os.path.isfile(os.path.join(private, "complete"))
try:
    libc = " ".join(os.confstr("CS_GNU_LIBC_VERSION").split())
except (AttributeError, ValueError, OSError):
    libc = ""
print("edgekit-probe: " + json.dumps({
    "python": "%d.%d.%d" % sys.version_info[:3], "machine": u.machine, "system": u.sysname,
    "release": u.release, "cpu_count": os.cpu_count(), "glibc": libc,
    "packages": {n: version(n) if metadata else None for n in NAMES}, "private": private,
    "private_ready": ready,
    "private_packages": {n: version(n, os.path.join(private, "site")) for n in NAMES} if ready and metadata else {}}))
"""


@dataclass
class Probe:
    """What the device said about itself."""

    python_path: str
    workdir: str | None
    info: dict[str, Any]

    @property
    def version(self) -> tuple[int, ...]:
        return tuple(int(x) for x in self.info["python"].split(".")[:2])


def probe_script(python: str, key: str) -> str:
    q = shlex.quote
    return (
        "umask 077; "
        f"py=$(command -v {q(python)}) || {{ echo 'edgekit-probe: no-python'; exit 0; }}; "
        'echo "edgekit-python: $py"; '
        'd=$(mktemp -d "${TMPDIR:-/tmp}/edgekit.XXXXXXXXXX") || exit 97; '
        'echo "edgekit-workdir: $d"; '
        f'exec "$py" -c {q(PROBE_PY)} {q(key)}'
    )


def run_script(workdir: str, python: str, env: dict[str, str], argv: list[str], timeout_s: float) -> str:
    """The harness under the device's `timeout`; the report on stdout; the folder removed on exit.

    HOME and TMPDIR point into the folder: what a runtime writes there (onnxruntime keeps a
    device id under ~/.cache and a session file in $TMPDIR) goes with it."""
    q = shlex.quote
    env = {**env, "HOME": f"{workdir}/home", "TMPDIR": f"{workdir}/tmp"}
    envs = " ".join(f"{k}={q(v)}" for k, v in env.items())
    return (
        f"d={q(workdir)}; trap 'rm -rf -- \"$d\"' EXIT; trap 'exit 129' HUP; trap 'exit 130' INT; "
        f"trap 'exit 143' TERM; cd \"$d\" && mkdir -p home tmp || exit {_CD_FAILED}; "
        f'T=; if command -v timeout >/dev/null 2>&1; then T="timeout -k 5 {max(1, int(timeout_s))}"; fi; '
        f"{envs} $T {q(python)} {' '.join(q(a) for a in argv)} 1>&2; rc=$?; "
        'cat "$d/report.json" 2>/dev/null; exit $rc'
    )


class SshBackend(Backend):
    """Profiles on a real device over SSH (measured, never emulated)."""

    name, emulated = "ssh", False

    def __init__(self, device: Device, provision: bool = False) -> None:
        self.device, self.provision = device, provision
        self.client = SshClient(device.name, device.address, device.ssh)
        self._described: dict[str, Any] = {}

    def run(
        self, target: Target, model: Path, args: list[str], *, count_runs: int, timeout_s: float, count_threads: int = 1
    ) -> HarnessRun:
        probe = self._probe()
        try:
            env = self._environment(probe, model, target)
            with tempfile.TemporaryDirectory(prefix="edgekit-ssh-") as tmp:
                sources, argv = _stage(Path(tmp), model, args, probe)
                self.client.upload(sources, probe.workdir or "", timeout_s=_upload_timeout(sources))
            result = self.client.run(
                run_script(probe.workdir or "", probe.python_path, env, argv, timeout_s),
                timeout_s=timeout_s + 60,
                what="the harness",
                check_ssh=False,
            )
            if result.returncode != SSH_FAILED:
                probe.workdir = None  # the run's exit trap removed it
            report = self._report(result, model, timeout_s)
        finally:
            self._cleanup(probe)
        return HarnessRun(report, None, ["ssh", str(self.device.address), shlex.join([probe.python_path, *argv])])

    def describe(self, target: Target) -> dict[str, Any]:
        return {
            "name": self.name,
            "emulated": False,
            "device": self.device.name,
            "address": str(self.device.address),
            **self._described,
        }

    # -- steps ------------------------------------------------------------------------------------

    def _probe(self) -> Probe:
        result = self.client.run(
            probe_script(self.device.python, provision.pins_key()),
            timeout_s=PROBE_TIMEOUT_S,
            what="checking the device",
        )
        tags = {}
        for line in result.stdout.splitlines():
            key, sep, value = line.partition(": ")
            if sep and key.startswith("edgekit-"):
                tags[key] = value.strip()
        if tags.get("edgekit-probe") == "no-python":
            raise DeviceError(
                f"{self.device.name} has no {self.device.python} on its PATH",
                status="no python",
                hint="install Python 3 on the device (Debian/Raspberry Pi OS: sudo apt-get install "
                'python3), or set python = "/path/to/python3" for it in devices.toml',
            )
        workdir = tags.get("edgekit-workdir")
        if workdir is not None and not _WORKDIR.match(workdir):
            raise DeviceError(f"{self.device.name} gave an unexpected work folder '{workdir[:80]}'")
        try:
            info = json.loads(tags["edgekit-probe"])
        except (KeyError, ValueError):
            probe = Probe(tags.get("edgekit-python", self.device.python), workdir, {})
            self._cleanup(probe)
            last = (result.stderr.strip().splitlines() or [f"exit status {result.returncode}"])[-1]
            raise DeviceError(
                f"{self.device.python} on {self.device.name} did not run: {last[:200]}",
                status="python failed",
                hint=f"try it: ssh {self.device.address} {self.device.python} --version",
            ) from None
        return Probe(tags["edgekit-python"], workdir, info)

    def _environment(self, probe: Probe, model: Path, target: Target) -> dict[str, str]:
        """The harness's environment: the private provisioned folder, else the system Python."""
        info, label = probe.info, self.device.name
        if probe.version < MIN_PYTHON:
            raise DeviceError(
                f"{label} has Python {info['python']}; the harness needs 3.8 or newer",
                status="old python",
                hint="install a newer python3 and name it in devices.toml",
            )
        if target.arch and info["machine"] != target.arch:
            progress.warn(f"{label} is {info['machine']}, but target {target.name} is {target.arch}")
        need = provision.needed(model)
        if self.provision and not (info["private_ready"] and _has(info["private_packages"], need)):
            self._provision(probe)
            info["private_ready"], info["private_packages"] = True, dict(provision.pins())
        private = info["private_ready"] and _has(info["private_packages"], need)
        packages = info["private_packages"] if private else info["packages"]
        missing = [name for name in need if not packages.get(name)]
        if missing:
            pins = " ".join(f"{n}=={need[n]}" for n in missing)
            raise DeviceError(
                f"{label}'s {self.device.python} ({info['python']}, {info['machine']}) lacks {' and '.join(missing)}",
                status="missing runtime",
                hint=f"install on the device: {self.device.python} -m pip install {pins} — or rerun "
                "with --provision (pinned wheels into ~/.cache/edgekit-device there, "
                "no network needed on the device)",
            )
        for name, version in need.items():
            if packages.get(name) != version:
                progress.warn(
                    f"{label} runs {name} {packages.get(name)}; edgekit pins {version} "
                    "(--provision installs the pinned one)"
                )
        self._described = {
            "python": info["python"],
            "python_path": probe.python_path,
            "machine": info["machine"],
            "cpu_count": info["cpu_count"],
            "glibc": info["glibc"],
            "environment": info["private"] if private else "system",
            "packages": {n: packages.get(n) for n in need},
            "provisioned": self.provision,
        }
        env = {
            "PYTHONHASHSEED": "0",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONNOUSERSITE": "1",
            "OPENBLAS_NUM_THREADS": "1",
            "EDGEKIT_TARGET": target.name,
        }
        return {**env, "PYTHONPATH": f"{info['private']}/site"} if private else env

    def _provision(self, probe: Probe) -> None:
        info = probe.info
        wheels = provision.device_wheels(info["python"], info["machine"], info["glibc"])
        with progress.step(f"provisioning the pinned runtimes on {self.device.name} ({info['private']})"):
            self.client.upload([wheels], probe.workdir or "", timeout_s=_upload_timeout([wheels]))
            q = shlex.quote
            remote = (
                f"{q(probe.python_path)} -c {q(provision.INSTALL_PY)} "
                f"{q(f'{probe.workdir}/{wheels.name}')} {q(info['private'])}"
            )
            result = self.client.run(remote, timeout_s=INSTALL_TIMEOUT_S, what="installing the runtimes")
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or ["no output"])[-1]
            raise DeviceError(
                f"provisioning {self.device.name} failed: {last[:200]}",
                status="provision failed",
                hint="check the free space under ~/.cache on the device",
            )

    def _report(self, result: RemoteResult, model: Path, timeout_s: float) -> dict[str, Any]:
        """The harness's report from stdout, or one clear error for what went wrong."""
        label, rc = self.device.name, result.returncode
        if rc == SSH_FAILED:
            from edge_kit.remote import device_error

            raise device_error(label, self.device.address, self.device.ssh, result.stderr)
        report = _json(result.stdout)
        if isinstance(report, dict) and report.get("ok"):
            return report
        if isinstance(report, dict):
            raise harness_error(report, model)
        from edge_kit.emulation.qemu import last_stage

        stage = last_stage(result.stderr)
        where = f" while {stage}" if stage else ""
        if rc == _TIMEOUT_RC:
            raise RuntimeFailure(
                f"profiling {model.name} on {label} timed out after {timeout_s:.0f} s{where}",
                hint="raise --timeout, or lower --num_runs / --max_secs",
            )
        if rc > 128:
            name = _signal_name(rc - 128)
            raise RuntimeFailure(
                f"profiling {model.name} on {label} crashed with {name}{where}",
                hint="the runtime may not support this model on this CPU; try another runtime or precision",
            )
        last = [ln for ln in result.stderr.strip().splitlines() if not ln.startswith("edgekit-stage:")][-1:]
        raise RuntimeFailure(
            f"profiling {model.name} on {label} produced no report (exit {rc}{where})"
            + (f": {last[0][:200]}" if last else "")
        )

    def _cleanup(self, probe: Probe) -> None:
        """Remove the work folder when a step failed before the run's own trap did."""
        if not probe.workdir:
            return
        try:
            result = self.client.run(
                f"rm -rf -- {shlex.quote(probe.workdir)}",
                timeout_s=CLEANUP_TIMEOUT_S,
                what="cleaning up",
                check_ssh=False,
            )
            ok = result.returncode == 0
        except DeviceError:
            ok = False
        if ok:
            probe.workdir = None
        else:
            progress.warn(f"could not remove {probe.workdir} on {self.device.name}; remove it by hand")


def _json(stdout: str) -> Any:
    """The report from stdout, also when a login script printed something before it."""
    for text in (stdout, stdout[stdout.find("{\n") :] if "{\n" in stdout else ""):
        try:
            return json.loads(text)
        except ValueError:
            continue
    return None


def _has(packages: dict[str, Any], need: dict[str, str]) -> bool:
    return all(packages.get(name) for name in need)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _stage(folder: Path, model: Path, args: list[str], probe: Probe) -> tuple[list[Path], list[str]]:
    """Copy what the device needs into `folder`; the harness argv with the device's paths."""
    from edge_kit.emulation.environment import harness_path

    remote = probe.workdir or ""
    (folder / "harness").mkdir()
    for source in harness_path().parent.glob("*.py"):
        shutil.copy2(source, folder / "harness" / source.name)
    (folder / "model").mkdir()
    shutil.copy2(model, folder / "model" / model.name)
    argv = [
        f"{remote}/harness/edgekit_harness.py",
        "--model",
        f"{remote}/model/{model.name}",
        "--out",
        f"{remote}/report.json",
        *args,
    ]
    if "--input" in argv:
        index = argv.index("--input") + 1
        source = Path(argv[index])
        (folder / "input").mkdir()
        shutil.copy2(source, folder / "input" / source.name)
        argv[index] = f"{remote}/input/{source.name}"
    if needs_et_shim(model):
        from edge_kit.emulation.etruntime import SHIM_NAME, ensure_et_runtime

        shutil.copytree(ensure_et_runtime(probe.info["machine"]), folder / "et")
        argv += ["--et-lib", f"{remote}/et/{SHIM_NAME}"]
    return sorted(folder.iterdir()), argv


def _upload_timeout(sources: list[Path]) -> float:
    """60 s plus 2 s per MB (a slow Wi-Fi board manages more than 0.5 MB/s)."""
    size = sum(p.stat().st_size for s in sources for p in ([s] if s.is_file() else s.rglob("*")) if p.is_file())
    return 60.0 + 2.0 * size / 1e6
