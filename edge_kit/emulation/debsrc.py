"""Fetch `qemu-plugin.h` from the Debian source package of the installed QEMU.

Debian ships no plugin header, so edgekit downloads the `qemu` source package
that matches the installed `qemu-user` (`apt-get source --download-only`) and
reads just `include/qemu/qemu-plugin.h` out of its tarball, applying any Debian
patch that touches that file. apt runs with a private configuration: deb-src
entries mirroring the host's configured `deb` sources (`aptsources.host_entries`;
no mirror is hard-coded) and private index/cache folders, so the host's apt state
is never touched.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

from edge_kit.emulation import aptsources
from edge_kit.emulation.aptsources import AptEntry
from edge_kit.errors import EnvironmentSetupError
from edge_kit.proc import run as run_child

HEADER_ENV = "EDGEKIT_QEMU_PLUGIN_HEADER"
HEADER_MEMBER = "include/qemu/qemu-plugin.h"
_APT_TIMEOUT_S = 600


def _hint(version: str = "") -> str:
    qemu = f"QEMU {upstream_version(version)}" if version else "the installed QEMU"
    return f"or set {HEADER_ENV}=/path/to/qemu-plugin.h (the {HEADER_MEMBER} of {qemu}'s source)"


def _run(cmd: list[str], *, cwd: Path | None = None, what: str, hint: str) -> str:
    """Run an apt/patch command; a failure becomes an EnvironmentSetupError."""
    if shutil.which(cmd[0]) is None:
        raise EnvironmentSetupError(f"'{cmd[0]}' is not available to {what}", hint=hint)
    try:
        done = run_child(cmd, cwd=cwd, timeout=_APT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise EnvironmentSetupError(
            f"'{cmd[0]}' timed out trying to {what}", hint=f"check network access, {hint}"
        ) from None
    if done.returncode != 0:
        lines = [ln for ln in (done.stderr + done.stdout).splitlines() if ln.strip()]
        detail = lines[-1].strip() if lines else f"exit status {done.returncode}"
        raise EnvironmentSetupError(f"could not {what}: {detail}", hint=hint)
    return done.stdout


def deb_src_sources(entries: list[AptEntry]) -> str:
    """deb822 `deb-src` paragraphs mirroring the host's binary `deb` entries."""
    paragraphs = []
    for entry in entries:
        lines = ["Types: deb-src", f"URIs: {entry.uri}", f"Suites: {' '.join(entry.suites)}"]
        if entry.components:
            lines.append(f"Components: {' '.join(entry.components)}")
        if entry.signed_by:
            lines.append(f"Signed-By: {entry.signed_by}")
        paragraphs.append("\n".join(lines))
    return "\n\n".join(dict.fromkeys(paragraphs)) + "\n" if paragraphs else ""


def apt_options(root: Path) -> list[str]:
    """apt `-o` options that confine sources, indexes and downloads to `root`."""
    opts = {
        "Dir::Etc::SourceList": str(root / "sources.list"),
        "Dir::Etc::SourceParts": str(root / "sources.list.d"),
        "Dir::State::Lists": str(root / "lists"),
        "Dir::Cache": str(root / "cache"),
        "Acquire::Languages": "none",
    }
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        opts["APT::Sandbox::User"] = "root"  # the private folders are not _apt's
    return [arg for key, value in opts.items() for arg in ("-o", f"{key}={value}")]


def upstream_version(version: str) -> str:
    """`1:7.2+dfsg-7+deb12u18` -> `7.2+dfsg` (no epoch, no Debian revision)."""
    version = version.split(":", 1)[-1]
    return version.rsplit("-", 1)[0] if "-" in version else version


def pick_version(available: list[str], wanted: str) -> str | None:
    """The exact source version if offered, else one with the same upstream version."""
    if wanted in available:
        return wanted
    same = [v for v in available if upstream_version(v) == upstream_version(wanted)]
    return same[0] if same else None


def _download(package: str, version: str, root: Path) -> Path:
    """Download the source package into `root/src` with a private apt setup."""
    for sub in ("sources.list.d", "lists/partial", "cache/archives/partial", "src"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "sources.list").write_text("")
    sources = deb_src_sources(aptsources.host_entries())
    if not sources:
        raise EnvironmentSetupError(
            "the host's apt sources list no 'deb' entries to derive deb-src entries from", hint=_hint(version)
        )
    (root / "sources.list.d" / "edgekit.sources").write_text(sources)
    opts = apt_options(root)
    hint = f"check network access and apt's sources, {_hint(version)}"
    _run(["apt-get", "-q", *opts, "update"], what="update the Debian source indexes", hint=hint)
    listing = _run(["apt-cache", *opts, "showsrc", package], what=f"look up source {package}", hint=hint)
    chosen = pick_version(re.findall(r"^Version: (\S+)$", listing, flags=re.M), version)
    if chosen is None:
        raise EnvironmentSetupError(
            f"the configured apt sources do not offer the source of {package} {version}", hint=_hint(version)
        )
    _run(
        ["apt-get", "-q", *opts, "source", "--download-only", f"{package}={chosen}"],
        cwd=root / "src",
        what=f"download the source of {package} {chosen}",
        hint=hint,
    )
    return root / "src"


def read_member(tar_path: Path, suffix: str) -> bytes | None:
    """Bytes of the first member whose name ends with `suffix` (streamed, nothing extracted)."""
    with tarfile.open(tar_path, "r|*") as tar:
        for member in tar:
            if member.isfile() and member.name.endswith(suffix):
                handle = tar.extractfile(member)
                return handle.read() if handle else None
    return None


def header_sections(patch_text: str, suffix: str = HEADER_MEMBER) -> str:
    """The parts of a unified diff that change a file whose path ends with `suffix`."""
    keep: list[str] = []
    lines = patch_text.splitlines(keepends=True)
    active = False
    for i, line in enumerate(lines):
        if line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "):
            target = lines[i + 1][4:].split("\t")[0].strip()
            active = target.endswith(suffix)
        elif line.startswith(("diff ", "Index: ")):
            active = False
        if active:
            keep.append(line)
    return "".join(keep)


def debian_header_patches(debian_tar: Path) -> list[tuple[str, int]]:
    """(diff, strip level) for each Debian patch in `series` that touches the header."""
    files: dict[str, str] = {}
    with tarfile.open(debian_tar, "r|*") as tar:
        for member in tar:
            if member.isfile() and "/patches/" in f"/{member.name}":
                handle = tar.extractfile(member)
                if handle:
                    files[member.name.split("patches/", 1)[1]] = handle.read().decode("utf-8", errors="replace")
    found = []
    for entry in files.get("series", "").splitlines():
        words = entry.split("#", 1)[0].split()
        if not words or words[0] not in files:
            continue
        strip = next((int(w[2:]) for w in words[1:] if re.fullmatch(r"-p\d+", w)), 1)
        diff = header_sections(files[words[0]])
        if diff:
            found.append((diff, strip))
    return found


def apply_patches(header: bytes, patches: list[tuple[str, int]], workdir: Path) -> bytes:
    """Apply header-only diffs with `patch`, in order; return the patched header."""
    if not patches:
        return header
    target = workdir / "tree" / HEADER_MEMBER
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(header)
    for index, (diff, strip) in enumerate(patches):
        diff_path = workdir / f"header-{index}.diff"
        diff_path.write_text(diff)
        _run(
            [
                "patch",
                "--batch",
                "--forward",
                "--silent",
                f"-p{strip}",
                "-d",
                str(workdir / "tree"),
                "-i",
                str(diff_path),
            ],
            what="apply Debian's patch to qemu-plugin.h",
            hint="install it: apt-get install patch",
        )
    return target.read_bytes()


def fetch_plugin_header(package: str, version: str, workdir: Path) -> bytes:
    """`qemu-plugin.h` (Debian patches applied) of source `package` at `version`."""
    src = _download(package, version, workdir / "apt")
    tars = sorted(src.glob("*.tar.*"))
    debian = [t for t in tars if ".debian.tar." in t.name]
    header = None
    for tar in (t for t in tars if t not in debian):
        header = read_member(tar, HEADER_MEMBER)
        if header is not None:
            break
    if header is None:
        raise EnvironmentSetupError(f"{HEADER_MEMBER} is not in the source of {package} {version}", hint=_hint(version))
    patches = debian_header_patches(debian[0]) if debian else []
    return apply_patches(header, patches, workdir)
