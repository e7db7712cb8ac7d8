"""iOS: a folder to drop into an Xcode project, zipped.

<Name>Model/<Name>Model.swift                  the wrapper for the format's runtime
<Name>Model/<Name>Model.bundle/Info.plist      a resource bundle with
<Name>Model/<Name>Model.bundle/<name>.<ext>    the model
<Name>Model/<Name>Model.bundle/<name>.metadata.json
<Name>Model/README.md  <Name>Model/SHA256SUMS
"""

from __future__ import annotations

from edge_kit import __version__
from edge_kit.packager import readme, wrappers
from edge_kit.packager.archive import Entry, sha256_hex, sums_entry
from edge_kit.packager.base import TEMPLATES, Bundle, Platform, runtime_name


def swift_source(bundle: Bundle) -> str:
    """The wrapper class for this bundle's runtime (ios/runner_<format>.swift.j2 extends Model.swift.j2)."""
    first = bundle.metadata["inputs"][0]
    stem, ext = bundle.model_file.rsplit(".", 1)
    return TEMPLATES.render(
        f"ios/runner_{bundle.format}.swift.j2",
        edgekit_version=__version__,
        model_file=bundle.model_file,
        format=bundle.format,
        precision=bundle.metadata["model"]["precision"],
        runtime=runtime_name(bundle.format),
        class_name=bundle.class_name,
        model_stem=stem,
        model_ext=ext,
        metadata_stem=bundle.metadata_file.removesuffix(".json"),
        model_sha256=sha256_hex(bundle.model),
        input0_shape=first["shape"],
        input0_layout=first["layout"] or "none",
        **wrappers.constants(bundle.metadata),
    )


def entries(bundle: Bundle) -> list[Entry]:
    wrappers.check_dtypes(bundle.metadata, "Swift")
    folder = f"{bundle.class_name}/"
    resources = f"{folder}{bundle.class_name}.bundle/"
    files = [
        Entry(f"{folder}{bundle.class_name}.swift", swift_source(bundle).encode()),
        Entry(
            f"{resources}Info.plist",
            TEMPLATES.render(
                "ios/Info.plist.j2",
                bundle_id=f"edgekit.models.{bundle.name}",
                class_name=bundle.class_name,
                version=bundle.version,
            ).encode(),
        ),
        Entry(f"{resources}{bundle.model_file}", bundle.model),
        Entry(f"{resources}{bundle.metadata_file}", bundle.metadata_json),
        Entry(f"{folder}README.md", readme.ios(bundle, bundle.class_name).encode()),
    ]
    return [*files, sums_entry(files, prefix=folder)]


PLATFORM = Platform(
    name="ios",
    suffix=".zip",
    entries=entries,
    dependency_kinds=("spm", "cocoapods"),
    description="a drop-in Xcode folder: Swift wrapper + resource bundle (model + metadata)",
)
