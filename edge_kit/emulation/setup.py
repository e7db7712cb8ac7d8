"""`edgekit setup` and `edgekit doctor`: build, and check, everything profiling a target needs."""

from __future__ import annotations

import shutil
from pathlib import Path

from edge_kit import progress
from edge_kit.emulation.environment import Check
from edge_kit.emulation.environment import doctor as environment_checks
from edge_kit.errors import EdgeKitError
from edge_kit.targets import Target, get_target


def setup_target(name: str) -> dict[str, str]:
    """Build (or verify) the cached pieces for `name`: rootfs + CPU view, plugin, ExecuTorch runtimes."""
    from edge_kit.emulation.environment import guest_environment
    from edge_kit.emulation.etruntime import ensure_et_runtime, host_arch
    from edge_kit.emulation.plugin import ensure_plugin

    target = get_target(name)
    built: dict[str, str] = {}
    if target.emulated:
        env = guest_environment(target)
        built["rootfs"], built["view"] = str(env.rootfs), str(env.view)
        with progress.step("building the instruction-counting plugin"):
            built["plugin"] = str(ensure_plugin())
        with progress.step("building the ExecuTorch runtime for aarch64"):
            built["executorch_aarch64"] = str(ensure_et_runtime("aarch64"))
    with progress.step(f"building the ExecuTorch runtime for {host_arch()}"):
        built[f"executorch_{host_arch()}"] = str(ensure_et_runtime(host_arch()))
    return built


def _cached(name: str, find: object, fix: str) -> Check:
    try:
        path = find()  # type: ignore[operator]
    except EdgeKitError as exc:
        return Check(name, False, exc.message, fix)
    return Check(name, path is not None, str(path) if path else "not built yet", None if path else fix)


def doctor(name: str, *, docker: bool = False) -> list[Check]:
    """Every check for `name`, each with the one command that fixes it (`docker`: the docker backend's too)."""
    from edge_kit.emulation.etruntime import cached_et_runtime, host_arch
    from edge_kit.emulation.plugin import cached_plugin

    target: Target = get_target(name)
    fix = f"edgekit setup --target {target.name}"
    checks = environment_checks(target.name) if target.emulated else []
    checks += [
        Check(
            "gcc",
            shutil.which("gcc") is not None,
            shutil.which("gcc") or "not found",
            None if shutil.which("gcc") else "apt-get install gcc",
        )
    ]
    if target.emulated:
        cross = shutil.which("aarch64-linux-gnu-g++")
        checks += [
            Check(
                "aarch64-linux-gnu-g++",
                cross is not None,
                cross or "not found (builds the ExecuTorch runtime for arm64)",
                None if cross else "apt-get install g++-aarch64-linux-gnu",
            ),
            _cached("instruction-counting plugin", cached_plugin, fix),
            _cached("ExecuTorch runtime (aarch64)", lambda: cached_et_runtime("aarch64"), fix),
        ]
    checks.append(_cached(f"ExecuTorch runtime ({host_arch()})", lambda: cached_et_runtime(host_arch()), fix))
    if docker:
        from edge_kit.docker.setup import docker_checks

        checks = [c for c in checks if not c.name.startswith("docker")] + docker_checks()
    return checks


def check_dict(check: Check) -> dict[str, object]:
    return {"name": check.name, "ok": check.ok, "detail": check.detail, "fix": check.fix, "required": check.required}


__all__ = ["Path", "check_dict", "doctor", "setup_target"]
