#!/usr/bin/env python3
"""Make the base image of edgekit's own image locally, offline for docker: no registry, no pip index.

    .venv/bin/python tools/make_base_image.py            # prints the tag, e.g. edgekit-base:3f2a...
    docker buildx build --network none --build-arg BASE_IMAGE=<tag> --load -t edgekit:local .

The base is a Debian bookworm root filesystem for the host's architecture with python3.11 (mmdebstrap,
from the host's own apt sources: install time, like `make setup`) plus, in
/usr/local/lib/python3.11/dist-packages, exactly the installed distributions that `pip install edgekit`
needs (edgekit's requirements, followed recursively through this venv's metadata; extras left out)
and pip, setuptools and wheel to install edgekit itself. The files come from this venv, so the image
holds the same pinned versions the tests ran with. Tagged `edgekit-base:<content hash>`; a second run
with the same venv reuses the image.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DEBS = ("python3.11", "libpython3.11", "libstdc++6", "libgcc-s1", "zlib1g", "libffi8", "libssl3", "libexpat1", "dash")
BUILD_TOOLS = ("pip", "setuptools", "wheel")
SITE = "usr/local/lib/python3.11/dist-packages"
REPO = "edgekit-base"


def closure(root: str = "edgekit") -> list[md.Distribution]:
    """The installed distributions `root` requires (markers evaluated, no extras), plus the build tools."""
    seen: dict[str, md.Distribution] = {}
    todo = [Requirement(root), *map(Requirement, BUILD_TOOLS)]
    while todo:
        req = todo.pop()
        name = req.name.lower().replace("_", "-")
        if name in seen or (req.marker is not None and not req.marker.evaluate({"extra": ""})):
            continue
        try:
            dist = md.distribution(req.name)
        except md.PackageNotFoundError:
            continue  # an optional or platform-specific requirement that is not installed
        seen[name] = dist
        todo += [Requirement(r) for r in dist.requires or []]
    seen.pop("edgekit", None)  # installed from the source by the Dockerfile
    return sorted(seen.values(), key=lambda d: d.metadata["Name"].lower())


def dist_files(dist: md.Distribution) -> list[tuple[Path, str]]:
    """(host file, path under dist-packages) of every file a distribution installed in site-packages."""
    out = []
    for rel in dist.files or []:
        path = Path(str(dist.locate_file(rel)))
        if path.is_file() and not str(rel).startswith(".."):  # scripts in bin/ are made again by pip
            out.append((path, str(rel)))
    return out


def key(dists: list[md.Distribution]) -> str:
    digest = hashlib.sha256(json.dumps(DEBS).encode())
    for dist in dists:
        record = dist.read_text("RECORD") or ""
        digest.update(f"{dist.metadata['Name']}=={dist.version}\n{record}".encode())
    return digest.hexdigest()[:16]


def rootfs(dest: Path, scratch: Path) -> None:
    from edge_kit.emulation.aptsources import debian_sources

    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True, check=True).stdout.strip()
    sources = scratch / "host.sources"
    sources.write_text(debian_sources("bookworm", arch))
    cmd = ["mmdebstrap", f"--arch={arch}", "--variant=extract", "--quiet", f"--include={','.join(DEBS)}"]
    subprocess.run([*cmd, "bookworm", str(dest), str(sources)], check=True, env={**os.environ, "TMPDIR": str(scratch)})


def write_tar(tar_path: Path, tree: Path, dists: list[md.Distribution]) -> None:
    def root_owned(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        return info

    with tarfile.open(tar_path, "w", format=tarfile.PAX_FORMAT) as tar:
        tar.add(tree, arcname=".", filter=root_owned)
        for dist in dists:
            for path, rel in dist_files(dist):
                tar.add(path, arcname=f"{SITE}/{rel}", filter=root_owned)


def main() -> int:
    dists = closure()
    tag = f"{REPO}:{key(dists)}"
    if subprocess.run(["docker", "image", "inspect", tag], capture_output=True, check=False).returncode == 0:
        print(tag)
        return 0
    with tempfile.TemporaryDirectory(prefix="edgekit-base-", dir=os.environ.get("TMPDIR")) as tmp:
        work = Path(tmp)
        print(f"make_base_image: {len(dists)} distributions, Debian bookworm python3.11 ({tag})", file=sys.stderr)
        rootfs(work / "root", work)
        (work / "root/tmp").mkdir(exist_ok=True)
        (work / "root/tmp").chmod(0o1777)
        context = work / "context"
        context.mkdir()
        write_tar(context / "base.tar", work / "root", dists)
        (context / "Dockerfile").write_text(
            "FROM scratch\nADD base.tar /\n"
            'ENV PATH="/usr/local/bin:/usr/bin:/bin" LANG="C.UTF-8" LC_ALL="C.UTF-8" PYTHONDONTWRITEBYTECODE="1"\n'
            f'LABEL org.edgekit.base-image="{tag}"\n'
        )
        build = ["docker", "buildx", "build", "--network", "none", "--progress", "plain", "--load", "-t", tag]
        proc = subprocess.run([*build, str(context)], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            print(f"make_base_image: docker buildx build failed: {proc.stderr.strip()[-500:]}", file=sys.stderr)
            return 1
    print(tag)
    return 0


if __name__ == "__main__":
    sys.exit(main())
