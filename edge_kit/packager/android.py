"""Android: an `.aar` library with the model and metadata as assets, plus a Kotlin wrapper.

Layout (what Gradle's AAR transform reads, plus files it ignores):

    AndroidManifest.xml  R.txt  assets/<name>.<ext>  assets/<name>.metadata.json
    kotlin/edgekit/models/<name>/<Name>Model.kt   (source to copy into the app)
    README.md  SHA256SUMS

No code is compiled here (there is no Android SDK), so the AAR ships no classes.jar;
Gradle creates an empty one for such libraries.
"""

from __future__ import annotations

from edge_kit import __version__
from edge_kit.packager import readme, wrappers
from edge_kit.packager.archive import Entry, sha256_hex, sums_entry
from edge_kit.packager.base import TEMPLATES, Bundle, Platform, runtime_name

MIN_SDK = 21


def package_name(bundle: Bundle) -> str:
    return f"edgekit.models.{bundle.name}"


def kotlin_path(bundle: Bundle) -> str:
    return f"kotlin/{package_name(bundle).replace('.', '/')}/{bundle.class_name}.kt"


def kotlin_source(bundle: Bundle) -> str:
    """The wrapper class for this bundle's runtime (android/runner_<format>.kt.j2 extends Model.kt.j2)."""
    first = bundle.metadata["inputs"][0]
    return TEMPLATES.render(
        f"android/runner_{bundle.format}.kt.j2",
        edgekit_version=__version__,
        model_file=bundle.model_file,
        metadata_file=bundle.metadata_file,
        format=bundle.format,
        precision=bundle.metadata["model"]["precision"],
        runtime=runtime_name(bundle.format),
        name=bundle.name,
        class_name=bundle.class_name,
        model_sha256=sha256_hex(bundle.model),
        input0_shape=first["shape"],
        input0_layout=first["layout"] or "none",
        **wrappers.constants(bundle.metadata),
    )


def entries(bundle: Bundle) -> list[Entry]:
    wrappers.check_dtypes(bundle.metadata, "Kotlin")
    files = [
        Entry(
            "AndroidManifest.xml",
            TEMPLATES.render(
                "android/AndroidManifest.xml.j2",
                name=bundle.name,
                version=bundle.version,
                package=package_name(bundle),
                min_sdk=MIN_SDK,
            ).encode(),
        ),
        Entry("R.txt", b""),
        Entry(f"assets/{bundle.model_file}", bundle.model, compress=False),
        Entry(f"assets/{bundle.metadata_file}", bundle.metadata_json),
        Entry(kotlin_path(bundle), kotlin_source(bundle).encode()),
    ]
    files.append(Entry("README.md", readme.android(bundle, kotlin_path(bundle), package_name(bundle)).encode()))
    return [*files, sums_entry(files)]


PLATFORM = Platform(
    name="android",
    suffix=".aar",
    entries=entries,
    dependency_kinds=("android",),
    description="an .aar (assets: model + metadata) with a Kotlin wrapper for the runtime",
)
