"""Docker tests run against a real engine (`make test` starts one through tools/with-dockerd).

Without a usable engine they skip with the reason, except under CI=true, where they fail:
CI must exercise the docker backend. `PrivateEngine` starts a second dockerd of the tests'
own (its own folders, no networking) for what cannot be done to the shared one: stopping it
mid-run, a full disk, a second buildx builder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge_kit.errors import EdgeKitError
from tests.generative.conftest import checkpoint, exported, raspi_profile  # noqa: F401  (session fixtures, shared)
from tests.profiler.conftest import digits_artifacts  # noqa: F401  (the session fixture, shared)

RUN_LABEL = "org.edgekit.run"


def engine_problem() -> str | None:
    """Why the docker backend cannot run here (None: it can)."""
    from edge_kit.docker.setup import require_docker

    try:
        require_docker()
    except EdgeKitError as exc:
        return exc.one_line()
    return None


def skip_or_fail(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and the docker backend cannot be tested: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def engine() -> None:
    problem = engine_problem()
    if problem:
        skip_or_fail(f"no usable Docker engine: {problem}")


@pytest.fixture(scope="session")
def profiling_image(engine: None):
    from edge_kit.docker.image import ensure_image

    return ensure_image()


def docker(*args: str, host: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **({"DOCKER_HOST": host} if host else {})}
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, env=env, check=False)


def leftovers(host: str | None = None) -> tuple[list[str], list[str]]:
    """(edgekit containers, untagged images) in the engine at `host`."""
    names = docker("ps", "-a", "--filter", f"label={RUN_LABEL}", "--format", "{{.Names}}", host=host).stdout.split()
    dangling = docker("images", "-q", "--filter", "dangling=true", host=host).stdout.split()
    return names, dangling


def wait_for_container(host: str | None = None, timeout_s: float = 300) -> str:
    """The name of the first edgekit container that shows up running in the engine."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = docker("ps", "--filter", f"label={RUN_LABEL}", "--format", "{{.Names}}", host=host).stdout.split()
        if found:
            return found[0]
        time.sleep(0.5)
    raise AssertionError("no edgekit container started")


class PrivateEngine:
    """A dockerd of the tests' own: its own data root, exec root and socket; no iptables, no bridge."""

    def __init__(self, root: Path, storage: str) -> None:
        self.root = root
        self.run_dir = Path(f"/run/edgekit-test-{uuid.uuid4().hex[:8]}")  # short: unix socket paths are limited
        self.host = f"unix://{self.run_dir}/docker.sock"
        self.storage = storage
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        cmd = ["dockerd", "--data-root", str(self.root / "data"), "--exec-root", str(self.run_dir / "exec")]
        cmd += ["--pidfile", str(self.run_dir / "pid"), "--host", self.host, f"--storage-driver={self.storage}"]
        cmd += ["--iptables=false", "--ip-masq=false", "--bridge=none"]
        log = open(self.root / "dockerd.log", "ab")
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.proc.poll() is None:
            if docker("version", "--format", "{{.Server.Version}}", host=self.host, timeout=10).returncode == 0:
                return
            time.sleep(0.5)
        raise AssertionError(f"the private dockerd did not start: {(self.root / 'dockerd.log').read_text()[-500:]}")

    def stop(self) -> None:
        """SIGTERM, as a service manager stops it (it stops its containers, then exits)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    @property
    def env(self) -> dict[str, str]:
        return {"DOCKER_HOST": self.host}


def overlay_works() -> bool:
    probe = Path(f"/tmp/edgekit-ovl-{uuid.uuid4().hex[:6]}")
    for sub in ("l", "u", "w", "m"):
        (probe / sub).mkdir(parents=True)
    try:
        opts = f"lowerdir={probe}/l,upperdir={probe}/u,workdir={probe}/w"
        ok = subprocess.run(["mount", "-t", "overlay", "overlay", "-o", opts, str(probe / "m")], check=False).returncode
        if ok == 0:
            subprocess.run(["umount", str(probe / "m")], check=False)
        return ok == 0
    finally:
        shutil.rmtree(probe, ignore_errors=True)


@pytest.fixture(scope="session")
def private_engine(engine: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateEngine]:
    if os.geteuid() != 0 or shutil.which("dockerd") is None:
        skip_or_fail("a second, private dockerd needs root and dockerd (apt-get install docker.io)")
    private = PrivateEngine(tmp_path_factory.mktemp("dockerd"), "overlay2" if overlay_works() else "vfs")
    private.start()
    try:
        yield private
    finally:
        private.stop()
        shutil.rmtree(private.run_dir, ignore_errors=True)
        shutil.rmtree(private.root, ignore_errors=True)  # its images: hundreds of MB
