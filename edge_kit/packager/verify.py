"""Install a Linux bundle's wheel in an emulated board and check its predictions.

The wheel is unpacked (RECORD hashes checked) into a host folder the guest reads
through PYTHONPATH, as `pip install --target` would; the guest's python3.11 runs the
package's own `predict_batch` on the samples. The reference is the original artifact
in its host runtime, fed the same inputs normalized by the wheel's own `_runtime.py`.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import io
import json
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from edge_kit import progress
from edge_kit.errors import DataError, RuntimeFailure, ValidationError
from edge_kit.packager.archive import check_name

RANDOM_SAMPLES = 8
GUEST_TIMEOUT_S = 900
GUEST_SCRIPT = r"""
import json, sys, time
import numpy as np
package, samples, out = sys.argv[1], sys.argv[2], sys.argv[3]
start = time.perf_counter()
module = __import__(package)
model = module.load(num_threads=1)
loaded = time.perf_counter()
predictions = model.predict_batch(np.load(samples))
with open(out, "w") as handle:
    json.dump({"indices": [p.index for p in predictions], "labels": [p.label for p in predictions],
               "scores": [p.scores.tolist() for p in predictions], "load_s": loaded - start,
               "predict_s": time.perf_counter() - loaded, "file": module.__file__}, handle)
"""


def unpack_wheel(wheel: bytes, dest: Path) -> None:
    """Extract a wheel into `dest` after checking every file against its RECORD."""
    with zipfile.ZipFile(io.BytesIO(wheel)) as archive:
        record_name = next(n for n in archive.namelist() if n.endswith(".dist-info/RECORD"))
        rows = [line.rsplit(",", 2) for line in archive.read(record_name).decode().splitlines() if line]
        hashes = {name: digest for name, digest, _size in rows if digest}
        for name in archive.namelist():
            data = archive.read(check_name(name))
            digest = "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            if name != record_name and hashes.get(name) != digest:
                raise RuntimeFailure(f"internal: {name} does not match the wheel's RECORD")
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            (dest / name).write_bytes(data)


def load_samples(path: Path | None, spec: dict[str, Any]) -> tuple[np.ndarray, np.ndarray | None, str]:
    """Samples of input 0 stacked on axis 0 (and labels y when the .npz has them)."""
    numel = int(np.prod(spec["shape"]))
    if path is None:
        rng = np.random.default_rng(0)
        return rng.random((RANDOM_SAMPLES, *spec["shape"][1:]), dtype=np.float32), None, "random [0, 1) seed 0"
    try:
        data = np.load(path, allow_pickle=False)
        x = np.asarray(data["x"] if hasattr(data, "files") else data)
        y = np.asarray(data["y"]) if hasattr(data, "files") and "y" in data.files else None
    except (OSError, ValueError, KeyError) as exc:
        raise DataError(
            f"cannot read samples from {Path(path).name}: {str(exc)[:120]}",
            hint="pass a .npy array or a .npz with x (and labels y)",
        ) from None
    if x.ndim < 2 or int(np.prod(x.shape[1:])) != numel or x.dtype.kind not in "fiu":
        raise DataError(
            f"{Path(path).name}: x {x.dtype}{list(x.shape)} is not a stack of inputs of shape {spec['shape']}",
            hint="stack the samples on axis 0",
        )
    return x, (y[: len(x)] if y is not None and y.ndim == 1 else None), Path(path).name


def _host_reference(site: Path, package: str, artifact: Path, manifest: dict[str, Any], x: np.ndarray) -> np.ndarray:
    """Scores of output 0 from the artifact in its host runtime, on wheel-normalized inputs."""
    from edge_kit.registry import get_format
    from edge_kit.signature import TensorSpec

    spec = importlib.util.spec_from_file_location("edgekit_verify_runtime", site / package / "_runtime.py")
    assert spec is not None and spec.loader is not None  # a .py file always gets a source loader
    runtime = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(runtime)
    meta = json.loads(next((site / package).glob("*.metadata.json")).read_text())
    runner = get_format(manifest["artifact"]["format"]).load(
        artifact, [TensorSpec.from_dict(s) for s in manifest.get("source_inputs", manifest["inputs"])], 1
    )
    return np.stack(
        [np.asarray(runner.run([runtime.normalize(s, meta["inputs"][0])])[0], np.float64).reshape(-1) for s in x]
    )


def verify_wheel(
    wheel: bytes,
    package: str,
    target: str,
    artifact: Path,
    manifest: dict[str, Any],
    samples: Path | None,
    metadata: dict[str, Any],
) -> dict[str, Any]:
    """Run the wheel in the emulated `target`; ValidationError unless every top-1 matches the host."""
    from edge_kit.emulation.environment import guest_environment

    x, y, origin = load_samples(samples, metadata["inputs"][0])
    env = guest_environment(target)
    with tempfile.TemporaryDirectory(prefix="edgekit-verify-") as work:
        site, out = Path(work) / "site", Path(work) / "out.json"
        site.mkdir()
        unpack_wheel(wheel, site)
        np.save(Path(work) / "x.npy", x)
        with progress.step(f"predicting {len(x)} samples with the wheel on {env.target.name} (emulated)"):
            env.run_python(
                ["-c", GUEST_SCRIPT, package, str(Path(work) / "x.npy"), str(out)],
                timeout_s=GUEST_TIMEOUT_S,
                extra_env={"PYTHONPATH": str(site)},
                what=f"the {package} wheel",
            )
        guest = json.loads(out.read_text())
        with progress.step("running the artifact on the host for reference"):
            reference = _host_reference(site, package, artifact, manifest, x)
    indices = np.asarray(guest["indices"])
    matched = int((indices == reference.argmax(axis=1)).sum())
    report = {
        "target": env.target.name,
        "emulated": True,
        "samples": int(len(x)),
        "data": origin,
        "top1_matched": matched,
        "max_abs_diff": float(np.abs(np.asarray(guest["scores"]) - reference).max()),
        "target_accuracy": float((indices == y).mean() * 100) if y is not None else None,
        "guest_load_s": round(guest["load_s"], 2),
        "guest_predict_s": round(guest["predict_s"], 2),
    }
    if matched != len(x):
        raise ValidationError(
            f"on {env.target.name} (emulated) {matched}/{len(x)} top-1 predictions of the "
            f"wheel match the artifact on the host",
            hint="no bundle was written",
            **report,
        )
    progress.log(
        f"verified on {env.target.name} (emulated): {matched}/{len(x)} top-1 predictions match the "
        f"host, max abs diff {report['max_abs_diff']:.2e}"
    )
    return report
