"""README.md of every bundle: what the model takes and returns, then how to integrate it."""

from __future__ import annotations

from typing import Any

from edge_kit import __version__
from edge_kit.packager.base import Bundle, render, runtime_name
from edge_kit.registry import get_format


def _norm(spec: dict[str, Any]) -> str:
    norm = spec.get("normalization")
    if not norm:
        return "none"
    if norm["scale"] == 1 and set(norm["mean"]) == {0} and set(norm["std"]) == {1}:
        return "none: raw values are fed as they are"
    return f"(raw × {norm['scale']:g} − mean {norm['mean']}) / std {norm['std']}"


def _quant(spec: dict[str, Any]) -> str:
    q = spec.get("quantization")
    return f"scale {q['scale']:g}, zero point {q['zero_point']}" if q else "—"


def _fmt(value: Any, spec: str) -> str:
    return format(value, spec) if isinstance(value, (int, float)) else "n/a"


def _facts(meta: dict[str, Any]) -> list[str]:
    model, val, acc = meta["model"], meta["validation"], meta.get("accuracy")
    embedded = "; metadata also embedded in it as `edgekit_metadata`" if model["metadata_embedded"] else ""
    rows = [
        f"| model file | `{model['file']}` ({model['format']}, {model['precision']}, "
        f"{runtime_name(model['format'])}{embedded}) |",
        f"| metadata | `{meta['name']}.metadata.json` (schema `{meta['schema']}` v{meta['schema_version']}) |",
        f"| exported sha256 | `{model['exported_sha256']}` |",
        f"| target | {meta['target']['name']}: {meta['target']['description'] or meta['target']['arch']} |",
        f"| validation | {val.get('status')}: max abs diff {_fmt(val.get('max_abs_diff'), '.2e')}, cosine "
        f"{_fmt(val.get('cosine_similarity'), '.6f')}, top-1 agreement {_fmt(val.get('top1_agreement'), '.0%')} "
        f"on {val.get('samples', 'n/a')} inputs |",
    ]
    if acc:
        rows.append(
            f"| accuracy | {acc.get('metric')}: source {_fmt(acc.get('source'), '.2f')}, this model "
            f"{_fmt(acc.get('artifact'), '.2f')} (drop {_fmt(acc.get('drop'), '.2f')} points) on "
            f"{acc.get('samples')} samples |"
        )
    labels = meta.get("labels")
    if labels:
        shown = ", ".join(f"`{label}`" for label in labels[:5]) + (", …" if len(labels) > 5 else "")
        rows.append(f"| labels | {len(labels)}: {shown} |")
    return rows


def summary(bundle: Bundle) -> str:
    """The model section shared by every platform's README."""
    meta = bundle.metadata
    lines = [
        "| | |",
        "|---|---|",
        *_facts(meta),
        "",
        "Inputs (row-major, in this order):",
        "",
        "| name | shape | dtype | layout | normalization | int8 quantization |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| `{s['name']}` | {s['shape']} | {s['dtype']} | {s['layout'] or '—'} | {_norm(s)} | {_quant(s)} |"
        for s in meta["inputs"]
    ]
    lines += ["", "Outputs:", "", "| name | shape | dtype | int8 quantization | meaning |", "|---|---|---|---|---|"]
    lines += [
        f"| `{s['name']}` | {s['shape']} | {s['dtype']} | {_quant(s)} | {s['meaning']} |" for s in meta["outputs"]
    ]
    return "\n".join(lines)


def _common(bundle: Bundle) -> dict[str, str]:
    return {
        "NAME": bundle.name,
        "CLASS": bundle.class_name,
        "VERSION": bundle.version,
        "EDGEKIT_VERSION": __version__,
        "MODEL_FILE": bundle.model_file,
        "METADATA_FILE": bundle.metadata_file,
        "RUNTIME": runtime_name(bundle.format),
        "FORMAT": bundle.format,
        "SUMMARY": summary(bundle),
    }


def _code(lines: list[str], indent: int) -> str:
    """Lines for a placeholder that sits `indent` spaces deep (its first line is already there)."""
    return ("\n" + " " * indent).join(lines)


def android(bundle: Bundle, kotlin_path: str, package: str) -> str:
    return render(
        "android/README.md",
        {
            **_common(bundle),
            "KOTLIN_PATH": kotlin_path,
            "PACKAGE": package,
            "GRADLE": _code(bundle.dependencies("android"), 7),
        },
    )


def ios(bundle: Bundle, folder: str) -> str:
    spm, pods = bundle.dependencies("spm"), bundle.dependencies("cocoapods")
    return render(
        "ios/README.md",
        {
            **_common(bundle),
            "FOLDER": folder,
            "SPM": _code(spm, 3) if spm else "// no official Swift package: use CocoaPods",
            "PODS": _code(pods, 3) if pods else "# no CocoaPods pod: use Swift Package Manager",
        },
    )


def linux(bundle: Bundle, folder: str, wheel: str, package: str, platform: str) -> str:
    return render(
        "linux/README.md",
        {
            **_common(bundle),
            "FOLDER": folder,
            "WHEEL": wheel,
            "PACKAGE": package,
            "DOCKER_PLATFORM": platform,
            "PYTHON_DEPS": _code(_python_needs(bundle), 0),
        },
    )


def _python_needs(bundle: Bundle) -> list[str]:
    needs = ["numpy>=1.23", *bundle.dependencies("python")]
    if get_format(bundle.format).needs_et_shim:
        needs.append("# the ExecuTorch runtime (aarch64, glibc >= 2.28) is inside the wheel, in _et/")
    return needs
