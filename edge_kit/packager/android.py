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
from edge_kit.packager.base import Bundle, Platform, kotlin_floats, render, runtime_name, template, template_sections

MIN_SDK = 21


def package_name(bundle: Bundle) -> str:
    return f"edgekit.models.{bundle.name}"


def kotlin_path(bundle: Bundle) -> str:
    return f"kotlin/{package_name(bundle).replace('.', '/')}/{bundle.class_name}.kt"


def _sections(fmt: str) -> dict[str, str]:
    return template_sections(template(f"android/runner_{fmt}.kt"))


def _array(values: list[str]) -> str:
    return ", ".join(values)


def _kt(text: str) -> str:
    return wrappers.string_literal(text, "kotlin")


def _longs(shape: list[int]) -> str:
    return "longArrayOf(" + ", ".join(str(d) for d in shape) + ")"


def _floats(values: list[float]) -> str:
    return "floatArrayOf(" + kotlin_floats(values) + ")"


def kotlin_source(bundle: Bundle) -> str:
    """The wrapper class for this bundle's runtime, constants filled from the metadata."""
    c = wrappers.constants(bundle.metadata)
    runtime = _sections(bundle.format)
    first = bundle.metadata["inputs"][0]
    return render(
        "android/Model.kt",
        {
            "EDGEKIT_VERSION": __version__,
            "MODEL_FILE": bundle.model_file,
            "METADATA_FILE": bundle.metadata_file,
            "FORMAT": bundle.format,
            "PRECISION": str(bundle.metadata["model"]["precision"]),
            "RUNTIME": runtime_name(bundle.format),
            "NAME": bundle.name,
            "CLASS": bundle.class_name,
            "MODEL_SHA256": sha256_hex(bundle.model),
            "INPUT0_SHAPE": str(first["shape"]),
            "INPUT0_LAYOUT": str(first["layout"] or "none"),
            "INPUT_NAMES": _array([_kt(n) for n in c["input_names"]]),
            "INPUT_SHAPES": _array([_longs(s) for s in c["input_shapes"]]),
            "INPUT_DTYPES": _array([_kt(d) for d in c["input_dtypes"]]),
            "INPUT_QUANT_SCALES": kotlin_floats(c["input_quant_scales"]),
            "INPUT_QUANT_ZERO_POINTS": _array([str(z) for z in c["input_quant_zero_points"]]),
            "NORM_SCALES": kotlin_floats(c["norm_scales"]),
            "NORM_MEANS": _array([_floats(m) for m in c["norm_means"]]),
            "NORM_STDS": _array([_floats(s) for s in c["norm_stds"]]),
            "NORM_CHANNEL_STRIDES": _array([str(s) for s in c["norm_channel_strides"]]),
            "OUTPUT_NAMES": _array([_kt(n) for n in c["output_names"]]),
            "OUTPUT_SHAPES": _array([_longs(s) for s in c["output_shapes"]]),
            "OUTPUT_DTYPES": _array([_kt(d) for d in c["output_dtypes"]]),
            "OUTPUT_QUANT_SCALES": kotlin_floats(c["output_quant_scales"]),
            "OUTPUT_QUANT_ZERO_POINTS": _array([str(z) for z in c["output_quant_zero_points"]]),
            "RUNTIME_IMPORTS": runtime["imports"],
            "RUNNER": runtime["runner"],
            "RUNTIME_HELPERS": runtime["helpers"] + "\n" if runtime["helpers"] else "",
        },
    )


def entries(bundle: Bundle) -> list[Entry]:
    wrappers.check_dtypes(bundle.metadata, "Kotlin")
    files = [
        Entry(
            "AndroidManifest.xml",
            render(
                "android/AndroidManifest.xml",
                {
                    "NAME": bundle.name,
                    "VERSION": bundle.version,
                    "PACKAGE": package_name(bundle),
                    "MIN_SDK": str(MIN_SDK),
                },
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
