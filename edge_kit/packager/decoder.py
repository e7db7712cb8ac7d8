"""Linux bundles of generative decoders: a wheel with the decoder and a `generate()` API.

    result = package(PackageRequest(artifact=Path("llama.pte"), platform="linux"))

The wheel holds `<name>_model/`: the decoder, `<name>.metadata.json` (a `DecoderBundleMetadata`
document), `_generate.py` (the harness's generation loop: stdlib + numpy + the runtime, the loop
the export was validated with), `_generator.py` (`Generator.generate/stream/self_test`), and for
`.pte` the aarch64 ExecuTorch runtime. `--verify-on TARGET` installs the wheel in the emulated
board and decodes the export's validation prompt there; the tokens must be the export's own.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from edge_kit import __version__, progress
from edge_kit.errors import UnsupportedError, UsageError, ValidationError
from edge_kit.fsutil import write_bytes_atomic
from edge_kit.packager.archive import Entry, sha256_hex, tar_gz_bytes
from edge_kit.packager.base import TEMPLATES, Bundle, Platform, runtime_name
from edge_kit.packager.linux import (
    DOCKER_PLATFORM,
    executorch_files,
    layout,
    package_name,
    template_values,
    wheel_spec,
)
from edge_kit.packager.wheel import build_wheel

GUEST_TIMEOUT_S = 1800
GUEST_SCRIPT = r"""
import json, sys, time
package, out = sys.argv[1], sys.argv[2]
start = time.perf_counter()
model = __import__(package).load(num_threads=1)
loaded = time.perf_counter()
report = model.self_test()
report.update(load_s=loaded - start, generate_s=time.perf_counter() - loaded, ttft_ms=model.last["ttft_ms"])
with open(out, "w") as handle:
    json.dump(report, handle)
"""


def check_request(req: Any, platform: Platform) -> None:
    """A decoder goes to Linux boards only, and takes none of the classifier's options."""
    if platform.name != "linux":
        raise UnsupportedError(
            f"{platform.name} bundles do not take generative decoders yet",
            hint="package it for linux boards (--platform linux): a wheel with generate()",
        )
    given = [opt for opt, value in (("--labels", req.labels), ("--samples", req.samples)) if value is not None]
    norm = req.normalization
    if norm.scale is not None or norm.mean is not None or norm.std is not None:
        given.append("--mean/--std/--scale")
    if given:
        raise UsageError(
            f"{', '.join(given)} describe classifier inputs; a decoder takes token ids",
            hint="drop them (--verify-on decodes the export's own validation prompt)",
        )


def metadata_document(manifest: dict[str, Any], name: str, version: str) -> dict[str, Any]:
    """The bundle's `DecoderBundleMetadata`, from the export's generative manifest."""
    from edge_kit.documents.generative import DecoderBundleMetadata

    art, check = manifest["artifact"], manifest["validation"]
    data = {
        "schema": "edgekit.decoder-bundle",
        "schema_version": 1,
        "name": name,
        "version": version,
        "edgekit_version": __version__,
        "model": {
            "file": f"{name}{Path(art['file']).suffix}",
            "format": art["format"],
            "runtime": art["runtime"],
            "precision": art["precision"],
            "exported_sha256": art["sha256"],
            "size_bytes": art["size_bytes"],
        },
        "source": manifest["source"],
        "cache": manifest["cache"],
        "validation": {
            "status": check["status"],
            "runtime": check["runtime"],
            "prompt": check["prompt"],
            "tokens": check["artifact_tokens"],
        },
        "versions": manifest["versions"],
    }
    DecoderBundleMetadata.model_validate(data)
    return data


def wheel_files(bundle: Bundle) -> list[Entry]:
    pkg = package_name(bundle)
    values = {**template_values(bundle), "cache_len": bundle.metadata["cache"]["cache_len"]}
    loop = resources.files("edge_kit.harness").joinpath("harness_generate.py").read_bytes()
    files = [
        Entry(f"{pkg}/__init__.py", TEMPLATES.render("linux/decoder_init.py.j2", **values).encode()),
        Entry(f"{pkg}/__main__.py", TEMPLATES.render("linux/decoder_main.py.j2", **values).encode()),
        Entry(f"{pkg}/_generator.py", TEMPLATES.text("linux/_generator.py.in").encode()),
        Entry(f"{pkg}/_generate.py", loop),
        Entry(f"{pkg}/{bundle.model_file}", bundle.model),
        Entry(f"{pkg}/{bundle.metadata_file}", bundle.metadata_json),
    ]
    if bundle.format == "executorch":  # the loop imports the shim's wrapper as `et_runtime`
        files += executorch_files(f"{pkg}/", wrapper="et_runtime.py")
    return files


def readme(bundle: Bundle, manifest: dict[str, Any], wheel: str) -> str:
    return TEMPLATES.render(
        "linux/decoder_README.md.j2",
        name=bundle.name,
        version=bundle.version,
        edgekit_version=__version__,
        wheel=wheel,
        model_file=bundle.model_file,
        metadata_file=bundle.metadata_file,
        format=bundle.format,
        precision=bundle.metadata["model"]["precision"],
        runtime=runtime_name(bundle.format),
        package=package_name(bundle),
        docker_platform=DOCKER_PLATFORM,
        python_deps=bundle.dependencies("python"),
        cache_len=manifest["cache"]["cache_len"],
        cache=manifest["cache"],
        source=manifest["source"],
        check=manifest["validation"],
    )


def verify(wheel: bytes, bundle: Bundle, target: str) -> dict[str, Any]:
    """Install the wheel in the emulated `target` and decode the export's validation prompt there."""
    import tempfile

    from edge_kit.emulation.environment import guest_environment
    from edge_kit.packager.verify import unpack_wheel

    env = guest_environment(target)
    package = package_name(bundle)
    with tempfile.TemporaryDirectory(prefix="edgekit-verify-") as work:
        site, out = Path(work) / "site", Path(work) / "out.json"
        site.mkdir()
        unpack_wheel(wheel, site)
        steps = len(bundle.metadata["validation"]["tokens"])
        with progress.step(f"decoding {steps} greedy steps with the wheel on {env.target.name} (emulated)"):
            env.run_python(
                ["-c", GUEST_SCRIPT, package, str(out)],
                timeout_s=GUEST_TIMEOUT_S,
                extra_env={"PYTHONPATH": str(site)},
                what=f"the {package} wheel",
            )
        guest = json.loads(out.read_text())
    report = {
        "target": env.target.name,
        "emulated": True,
        "prompt_len": len(bundle.metadata["validation"]["prompt"]),
        "steps": steps,
        "matched_steps": guest["matched_steps"],
        "tokens": guest["tokens"],
        "guest_load_s": round(guest["load_s"], 2),
        "guest_generate_s": round(guest["generate_s"], 2),
    }
    if not guest["ok"]:
        raise ValidationError(
            f"on {env.target.name} (emulated) the wheel's greedy tokens differ from the export's after "
            f"{guest['matched_steps']}/{steps} steps",
            hint="no bundle was written",
            **report,
        )
    progress.log(f"verified on {env.target.name} (emulated): {steps}/{steps} greedy tokens match the export's")
    return report


def package_decoder(req: Any, platform: Platform, name: str, dest: Path) -> Any:
    """Build and write the Linux bundle of a generative decoder (`req`: a `PackageRequest`)."""
    from edge_kit.manifest import read_generative_manifest
    from edge_kit.packager.core import PackageResult

    artifact = Path(req.artifact)
    manifest = read_generative_manifest(artifact, verify=True)
    if manifest.get("encoder"):
        raise UnsupportedError(
            f"{artifact.name} is an encoder-decoder (Whisper): bundles take decoder-only LLMs for now",
            hint="profile it with `edgekit profile`; see docs/generative.md",
        )
    if manifest["status"] != "ok":
        progress.warn(f"{artifact.name} was exported with greedy check '{manifest['status']}'; the metadata records it")
    metadata = metadata_document(manifest, name, req.version)
    document = (json.dumps(metadata, indent=2) + "\n").encode()
    bundle = Bundle(
        name=name, version=req.version, model=artifact.read_bytes(), metadata=metadata, metadata_json=document
    )
    if sha256_hex(bundle.model) != manifest["artifact"]["sha256"]:
        from edge_kit.errors import ManifestError

        raise ManifestError(f"{artifact.name} changed while it was packaged", hint="package it again")
    with progress.step("laying out the linux bundle"):
        spec = wheel_spec(bundle)
        text = readme(bundle, manifest, spec.filename)
        wheel = build_wheel(spec, wheel_files(bundle), description=text)
        entries = layout(bundle, wheel, spec.filename, text, generative=True)
    verification = verify(wheel, bundle, req.verify_on) if req.verify_on else None
    data = tar_gz_bytes(entries)
    write_bytes_atomic(dest, data)
    progress.log(f"wrote {dest} (linux, {bundle.format} decoder, {len(entries)} files, {len(data):,} bytes)")
    return PackageResult(
        archive=dest,
        platform=platform.name,
        format=bundle.format,
        name=name,
        sha256=sha256_hex(data),
        size_bytes=len(data),
        entries=sorted(e.name for e in entries),
        dependencies={"python": bundle.dependencies("python")},
        metadata=metadata,
        verification=verification,
    )
