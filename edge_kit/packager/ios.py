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
from edge_kit.packager.base import Bundle, Platform, render, runtime_name, template, template_sections


def _sections(fmt: str, values: dict[str, str]) -> dict[str, str]:
    return template_sections(template(f"ios/runner_{fmt}.swift").replace("@@CLASS@@", values["CLASS"]))


def _list(values: list[str]) -> str:
    return ", ".join(values)


def _str(text: str) -> str:
    return wrappers.string_literal(text, "swift")


def _floats(values: list[float]) -> str:
    return "[" + ", ".join(repr(float(v)) for v in values) + "]"


def _ints(values: list[int]) -> str:
    return "[" + ", ".join(str(int(v)) for v in values) + "]"


def swift_source(bundle: Bundle) -> str:
    """The wrapper class for this bundle's runtime, constants filled from the metadata."""
    c = wrappers.constants(bundle.metadata)
    first = bundle.metadata["inputs"][0]
    stem, ext = bundle.model_file.rsplit(".", 1)
    values = {
        "EDGEKIT_VERSION": __version__,
        "MODEL_FILE": bundle.model_file,
        "FORMAT": bundle.format,
        "PRECISION": str(bundle.metadata["model"]["precision"]),
        "RUNTIME": runtime_name(bundle.format),
        "CLASS": bundle.class_name,
        "MODEL_STEM": stem,
        "MODEL_EXT": ext,
        "METADATA_STEM": bundle.metadata_file.removesuffix(".json"),
        "MODEL_SHA256": sha256_hex(bundle.model),
        "INPUT0_SHAPE": str(first["shape"]),
        "INPUT0_LAYOUT": str(first["layout"] or "none"),
        "INPUT_NAMES": _list([_str(n) for n in c["input_names"]]),
        "INPUT_SHAPES": _list([_ints(s) for s in c["input_shapes"]]),
        "INPUT_DTYPES": _list([_str(d) for d in c["input_dtypes"]]),
        "INPUT_QUANT_SCALES": _floats(c["input_quant_scales"])[1:-1],
        "INPUT_QUANT_ZERO_POINTS": _ints(c["input_quant_zero_points"])[1:-1],
        "NORM_SCALES": _floats(c["norm_scales"])[1:-1],
        "NORM_MEANS": _list([_floats(m) for m in c["norm_means"]]),
        "NORM_STDS": _list([_floats(s) for s in c["norm_stds"]]),
        "NORM_CHANNEL_STRIDES": _ints(c["norm_channel_strides"])[1:-1],
        "OUTPUT_NAMES": _list([_str(n) for n in c["output_names"]]),
        "OUTPUT_SHAPES": _list([_ints(s) for s in c["output_shapes"]]),
        "OUTPUT_DTYPES": _list([_str(d) for d in c["output_dtypes"]]),
        "OUTPUT_QUANT_SCALES": _floats(c["output_quant_scales"])[1:-1],
        "OUTPUT_QUANT_ZERO_POINTS": _ints(c["output_quant_zero_points"])[1:-1],
    }
    runtime = _sections(bundle.format, values)
    return render("ios/Model.swift", {**values, "RUNTIME_IMPORTS": runtime["imports"], "RUNNER": runtime["runner"]})


def entries(bundle: Bundle) -> list[Entry]:
    wrappers.check_dtypes(bundle.metadata, "Swift")
    folder = f"{bundle.class_name}/"
    resources = f"{folder}{bundle.class_name}.bundle/"
    files = [
        Entry(f"{folder}{bundle.class_name}.swift", swift_source(bundle).encode()),
        Entry(
            f"{resources}Info.plist",
            render(
                "ios/Info.plist",
                {"BUNDLE_ID": f"edgekit.models.{bundle.name}", "CLASS": bundle.class_name, "VERSION": bundle.version},
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
