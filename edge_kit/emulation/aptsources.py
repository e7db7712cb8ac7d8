"""The host's configured Debian apt sources, rewritten for the guest's release.

edgekit never names a mirror: it reads the machine's own apt configuration
(deb822 `*.sources` files and one-line `sources.list` / `*.list` files), keeps the
Debian archive entries (suites named after a Debian release) and rewrites their
suites to the guest's release (`trixie-updates` -> `bookworm-updates`). The result
is deb822 text that `mmdebstrap` accepts as its mirror argument.
`$EDGEKIT_APT_SOURCES` names a sources file to use instead (used verbatim).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from edge_kit.errors import EnvironmentSetupError

APT_DIR = Path("/etc/apt")
DEBIAN_CODENAMES = frozenset(
    (
        "buzz",
        "rex",
        "bo",
        "hamm",
        "slink",
        "potato",
        "woody",
        "sarge",
        "etch",
        "lenny",
        "squeeze",
        "wheezy",
        "jessie",
        "stretch",
        "buster",
        "bullseye",
        "bookworm",
        "trixie",
        "forky",
        "duke",
        "sid",
        "stable",
        "oldstable",
        "oldoldstable",
        "testing",
        "unstable",
    )
)
KEPT_POCKETS = ("", "-updates", "-security")  # backports and proposed-updates are left out
_SUITE = re.compile(r"^(?P<base>[a-z]+)(?P<pocket>(-[a-z-]+|/updates)?)$")


@dataclass(frozen=True)
class AptEntry:
    """One `deb` line or deb822 paragraph (one URI, its suites and options)."""

    uri: str
    suites: tuple[str, ...]
    components: tuple[str, ...]
    signed_by: str = ""
    architectures: tuple[str, ...] = ()


def source_files(apt_dir: Path = APT_DIR) -> list[Path]:
    """Every file apt reads its sources from (disabled `*.disabled` files are skipped)."""
    files = [apt_dir / "sources.list"] if (apt_dir / "sources.list").is_file() else []
    folder = apt_dir / "sources.list.d"
    if folder.is_dir():
        files += sorted(p for p in folder.iterdir() if p.suffix in (".list", ".sources"))
    return files


def _paragraphs(text: str) -> list[dict[str, str]]:
    """Split deb822 text into paragraphs of lower-cased fields (continuations joined)."""
    paragraphs: list[dict[str, str]] = []
    current: dict[str, str] = {}
    key = ""
    for line in text.splitlines() + [""]:
        if line.startswith("#"):
            continue
        if not line.strip():
            if current:
                paragraphs.append(current)
            current, key = {}, ""
        elif line[0] in " \t" and key:
            current[key] += "\n" + line.strip()
        elif ":" in line:
            key, _, value = line.partition(":")
            key = key.strip().lower()
            current[key] = value.strip()
    return paragraphs


def parse_deb822(text: str) -> list[AptEntry]:
    """Enabled binary (`Types: deb`) entries of a deb822 `.sources` file."""
    entries = []
    for para in _paragraphs(text):
        if "deb" not in para.get("types", "").split() or para.get("enabled", "yes") == "no":
            continue
        signed = para.get("signed-by", "")
        signed = signed if "\n" not in signed else ""  # inline keys: leave to the keyrings
        for uri in para.get("uris", "").split():
            entries.append(
                AptEntry(
                    uri=uri,
                    suites=tuple(para.get("suites", "").split()),
                    components=tuple(para.get("components", "").split()),
                    signed_by=signed,
                    architectures=tuple(para.get("architectures", "").split()),
                )
            )
    return entries


def parse_one_line(text: str) -> list[AptEntry]:
    """`deb [opt=value ...] URI SUITE COMPONENT...` lines of a `sources.list` file."""
    entries = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line.startswith("deb "):
            continue
        options: dict[str, str] = {}
        match = re.match(r"deb\s+\[([^\]]*)\]\s+(.*)", line)
        rest = match.group(2) if match else line[4:]
        if match:
            options = dict(opt.split("=", 1) for opt in match.group(1).split() if "=" in opt)
        words = rest.split()
        if len(words) >= 2:
            entries.append(
                AptEntry(
                    uri=words[0],
                    suites=(words[1],),
                    components=tuple(words[2:]),
                    signed_by=options.get("signed-by", ""),
                    architectures=tuple(options.get("arch", "").split(",")) if options.get("arch") else (),
                )
            )
    return entries


def host_entries(apt_dir: Path = APT_DIR) -> list[AptEntry]:
    """All enabled binary entries of the host's apt configuration."""
    entries: list[AptEntry] = []
    for path in source_files(apt_dir):
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        entries += parse_deb822(text) if path.suffix == ".sources" else parse_one_line(text)
    return entries


def _retarget(suite: str, release: str) -> str | None:
    """`trixie-security` -> `bookworm-security`; None for non-Debian or unwanted suites."""
    match = _SUITE.match(suite)
    if not match or match.group("base") not in DEBIAN_CODENAMES:
        return None
    pocket = "-security" if match.group("pocket") == "/updates" else match.group("pocket")
    return release + pocket if pocket in KEPT_POCKETS else None


def debian_sources(release: str, arch: str = "arm64", apt_dir: Path = APT_DIR) -> str:
    """deb822 text of the host's Debian entries, retargeted to `release` (main only)."""
    override = os.environ.get("EDGEKIT_APT_SOURCES")
    if override:
        path = Path(override)
        if not path.is_file():
            raise EnvironmentSetupError(
                f"EDGEKIT_APT_SOURCES names no file: {override}",
                hint="point it at a deb822 .sources or sources.list file",
            )
        return path.read_text(encoding="utf-8")
    paragraphs: list[str] = []
    seen: set[tuple[str, str]] = set()
    for entry in host_entries(apt_dir):
        if entry.architectures and arch not in entry.architectures:
            continue
        suites = [s for s in (_retarget(x, release) for x in entry.suites) if s]
        suites = [s for s in dict.fromkeys(suites) if (entry.uri, s) not in seen]
        if not suites or "main" not in entry.components:
            continue
        seen.update((entry.uri, s) for s in suites)
        lines = ["Types: deb", f"URIs: {entry.uri}", f"Suites: {' '.join(suites)}", "Components: main"]
        if entry.signed_by:
            lines.append(f"Signed-By: {entry.signed_by}")
        paragraphs.append("\n".join(lines))
    if not paragraphs:
        raise EnvironmentSetupError(
            f"no Debian apt source found in {apt_dir} to build the {release} arm64 root filesystem",
            hint="add a Debian source to /etc/apt/sources.list.d/ or set EDGEKIT_APT_SOURCES=FILE",
        )
    return "\n\n".join(paragraphs) + "\n"
