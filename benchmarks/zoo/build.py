"""Build zoo entries into a cache folder: the source file edgekit takes, plus sample inputs.

    .venv/bin/python -m benchmarks.zoo.build --cache ~/.cache/edgekit-zoo [NAME ...]

Per entry the cache holds `<name>.<suffix>` (a folder for a SavedModel), `<name>.inputs.npz`
(4 samples per input as x0, x1, ...: what both edgekit and the raw converters are validated on)
and `<name>.json` (how it was built, its inputs, size and build time). A finished entry is
reused; a failed build leaves nothing behind and is reported with its first error line.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.zoo.spec import Entry

SAMPLES = 4


@dataclass(frozen=True)
class Built:
    """A built entry: its source file and sample inputs in the cache."""

    entry: Entry
    source: Path
    inputs: Path
    meta: dict[str, Any]


def missing_modules(entry: Entry) -> list[str]:
    """Modules the entry needs that are not installed (checked without importing them;
    torchvision lives in its own folder, see torchvision_shim.py)."""
    from benchmarks.zoo.torchvision_shim import torchvision_dir

    def present(module: str) -> bool:
        if module == "torchvision" and (torchvision_dir() / "torchvision").is_dir():
            return True
        return importlib.util.find_spec(module) is not None

    return [m for m in entry.needs if not present(m)]


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size


def load_built(entry: Entry, cache: Path) -> Built | None:
    """The cached build of `entry`, or None when it has not been built (or not completely)."""
    meta_path = cache / f"{entry.name}.json"
    if not meta_path.exists():
        return None
    meta = json.loads(meta_path.read_text())
    source, inputs = cache / entry.filename, cache / f"{entry.name}.inputs.npz"
    if not (source.exists() and inputs.exists()):
        return None
    return Built(entry, source, inputs, meta)


def build(entry: Entry, cache: Path) -> Built:
    """Build `entry` into `cache` (reused when already there). Raises what the builder raised."""
    cache.mkdir(parents=True, exist_ok=True)
    done = load_built(entry, cache)
    if done is not None:
        return done
    missing = missing_modules(entry)
    if missing:
        raise ModuleNotFoundError(f"{entry.name} needs {', '.join(missing)} (see benchmarks/zoo/INSTALL.md)")
    final = cache / entry.filename
    tmp = cache / f".tmp-{entry.filename}"
    _remove(tmp)
    start = time.perf_counter()
    try:
        entry.build(tmp)
        _remove(final)
        tmp.rename(final)
    finally:
        _remove(tmp)
    seconds = time.perf_counter() - start
    inputs = cache / f"{entry.name}.inputs.npz"
    with open(inputs.with_suffix(".tmp"), "wb") as handle:
        np.savez(handle, **entry.sample_inputs(SAMPLES))
    inputs.with_suffix(".tmp").rename(inputs)
    meta = {
        "name": entry.name,
        "family": entry.family,
        "framework": entry.framework,
        "source": entry.source,
        "how": entry.how,
        "pretrained": entry.pretrained,
        "inputs": [
            {"name": s.name, "shape": list(s.shape), "dtype": s.dtype, "vocab": s.vocab, "value": s.value}
            for s in entry.inputs
        ],
        "size_bytes": _size(final),
        "build_s": round(seconds, 2),
        "samples": SAMPLES,
    }
    (cache / f"{entry.name}.json").write_text(json.dumps(meta, indent=1))
    return Built(entry, final, inputs, meta)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def first_line(exc: BaseException) -> str:
    """The first non-empty line of an exception, prefixed by its type (for result tables)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"[:300]


def main(argv: list[str] | None = None) -> int:
    from benchmarks.zoo.models import select

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--json", action="store_true", help="one JSON line per entry on stdout")
    parser.add_argument("names", nargs="*", help="entries (substrings; 'subset'); default all")
    args = parser.parse_args(argv)
    status = 0
    for entry in select(args.names):
        start = time.perf_counter()
        try:
            built = build(entry, args.cache)
            row = {
                "name": entry.name,
                "ok": True,
                "size_bytes": built.meta["size_bytes"],
                "build_s": built.meta["build_s"],
            }
        except Exception as exc:
            row, status = {"name": entry.name, "ok": False, "error": first_line(exc)}, 1
        row["wall_s"] = round(time.perf_counter() - start, 2)
        print(json.dumps(row) if args.json else f"{entry.name:34} {row}", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
