"""Linux boards (Raspberry Pi, Jetson): a wheel with the model and a `predict()` API, plus a Dockerfile.

The bundle is a `.tar.gz` with one folder, `<name>-linux/`:

    <dist>-<version>-<tag>.whl   the package <name>_model: model, metadata, _runtime.py (numpy +
                                 the format's runtime); .pte wheels also carry the aarch64
                                 ExecuTorch runtime (libedgekit_et.so + ExecuTorch's .so files)
    Dockerfile                   python:3.11-slim-bookworm for linux/arm64, installs the wheel
    README.md  SHA256SUMS
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from edge_kit import __version__
from edge_kit.packager import readme
from edge_kit.packager.archive import Entry, sums_entry
from edge_kit.packager.base import TEMPLATES, Bundle, Platform, VerifyCheck, runtime_name
from edge_kit.packager.wheel import PURE_TAG, WheelSpec, build_wheel
from edge_kit.registry import get_format

DOCKER_PLATFORM = "linux/arm64"
ET_ARCH = "aarch64"
ET_TAG = "py3-none-manylinux_2_28_aarch64"  # ExecuTorch's aarch64 libraries need glibc >= 2.27


def package_name(bundle: Bundle) -> str:
    """The import name: digits_model."""
    return bundle.name if bundle.name.endswith("_model") else f"{bundle.name}_model"


def wheel_spec(bundle: Bundle) -> WheelSpec:
    meta = bundle.metadata["model"]
    pte = get_format(bundle.format).needs_et_shim
    return WheelSpec(
        distribution=package_name(bundle).replace("_", "-"),
        version=bundle.version,
        summary=f"{bundle.name}: {meta['format']} ({meta['precision']}) model on "
        f"{runtime_name(bundle.format)}, packaged by edgekit",
        requires=("numpy>=1.23", *bundle.dependencies("python")),
        tag=ET_TAG if pte else PURE_TAG,
        console_script=f"{package_name(bundle).replace('_', '-')} = {package_name(bundle)}.__main__:main",
    )


def executorch_files(prefix: str, wrapper: str = "_et_runtime.py") -> list[Entry]:
    """The aarch64 ExecuTorch runtime (built once and cached) and its ctypes wrapper (`prefix + wrapper`)."""
    from edge_kit.emulation.etruntime import MANIFEST, ensure_et_runtime, executorch_version

    folder = ensure_et_runtime(ET_ARCH)
    files = [
        Entry(f"{prefix}_et/{p.name}", p.read_bytes(), executable=True)
        for p in sorted(folder.iterdir())
        if p.is_file() and p.suffix == ".so" and p.name != MANIFEST
    ]
    shim = resources.files("edge_kit.harness").joinpath("et_runtime.py").read_bytes()
    notice = (
        f"libexecutorch*.so: ExecuTorch {executorch_version()} (BSD 3-Clause, "
        "https://github.com/pytorch/executorch), from its aarch64 wheel.\n"
        "libedgekit_et.so: edgekit's C shim over them (Apache-2.0).\n"
    ).encode()
    return [*files, Entry(f"{prefix}_et/NOTICE", notice), Entry(prefix + wrapper, shim)]


def template_values(bundle: Bundle) -> dict[str, Any]:
    """What the wheel's Python templates are rendered with."""
    return {
        "name": bundle.name,
        "version": bundle.version,
        "edgekit_version": __version__,
        "model_file": bundle.model_file,
        "metadata_file": bundle.metadata_file,
        "format": bundle.format,
        "precision": bundle.metadata["model"]["precision"],
        "runtime": runtime_name(bundle.format),
        "package": package_name(bundle),
    }


def wheel_files(bundle: Bundle) -> list[Entry]:
    """What the wheel installs into site-packages: the package folder."""
    pkg = package_name(bundle)
    values = template_values(bundle)
    files = [
        Entry(f"{pkg}/__init__.py", TEMPLATES.render("linux/__init__.py.j2", **values).encode()),
        Entry(f"{pkg}/__main__.py", TEMPLATES.render("linux/__main__.py.j2", **values).encode()),
        Entry(f"{pkg}/_runtime.py", TEMPLATES.text("linux/_runtime.py.in").encode()),
        Entry(f"{pkg}/{bundle.model_file}", bundle.model),
        Entry(f"{pkg}/{bundle.metadata_file}", bundle.metadata_json),
    ]
    if get_format(bundle.format).needs_et_shim:
        files += executorch_files(f"{pkg}/")
    return files


def dockerfile(bundle: Bundle, wheel: str, generative: bool = False) -> Entry:
    text = TEMPLATES.render(
        "linux/Dockerfile.j2",
        name=bundle.name,
        version=bundle.version,
        format=bundle.format,
        runtime=runtime_name(bundle.format),
        edgekit_version=__version__,
        docker_platform=DOCKER_PLATFORM,
        wheel=wheel,
        package=package_name(bundle),
        generative=generative,
    )
    return Entry(f"{bundle.name}-linux/Dockerfile", text.encode())


def layout(bundle: Bundle, wheel: bytes, filename: str, readme_text: str, generative: bool = False) -> list[Entry]:
    """`<name>-linux/`: the wheel, the Dockerfile, the README and SHA256SUMS."""
    folder = f"{bundle.name}-linux/"
    files = [
        Entry(folder + filename, wheel),
        dockerfile(bundle, filename, generative),
        Entry(folder + "README.md", readme_text.encode()),
    ]
    return [*files, sums_entry(files, prefix=folder)]


def entries(bundle: Bundle) -> list[Entry]:
    spec = wheel_spec(bundle)
    text = readme.linux(bundle, f"{bundle.name}-linux", spec.filename, package_name(bundle), DOCKER_PLATFORM)
    return layout(bundle, build_wheel(spec, wheel_files(bundle), description=text), spec.filename, text)


def verify(files: list[Entry], bundle: Bundle, check: VerifyCheck) -> dict[str, Any]:
    """Install the bundle's wheel in the emulated board and compare its predictions with the host."""
    from edge_kit.packager.verify import verify_wheel

    wheel = next(e for e in files if e.name.endswith(".whl"))
    return verify_wheel(
        wheel.data, package_name(bundle), check.target, check.artifact, check.manifest, check.samples, bundle.metadata
    )


PLATFORM = Platform(
    name="linux",
    suffix=".tar.gz",
    entries=entries,
    archive="tar.gz",
    dependency_kinds=("python",),
    verify=verify,
    description="a wheel (model + metadata + predict() API) and a linux/arm64 Dockerfile",
)
