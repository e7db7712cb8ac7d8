"""README.md of every bundle: what the model takes and returns, then how to integrate it."""

from __future__ import annotations

from typing import Any

from edge_kit import __version__
from edge_kit.packager.base import TEMPLATES, Bundle, runtime_name


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


def _facts(meta: dict[str, Any]) -> list[tuple[str, str]]:
    """(key, value) rows of the model table."""
    model, val, acc = meta["model"], meta["validation"], meta.get("accuracy")
    embedded = "; metadata also embedded in it as `edgekit_metadata`" if model["metadata_embedded"] else ""
    rows = [
        (
            "model file",
            f"`{model['file']}` ({model['format']}, {model['precision']}, {runtime_name(model['format'])}{embedded})",
        ),
        ("metadata", f"`{meta['name']}.metadata.json` (schema `{meta['schema']}` v{meta['schema_version']})"),
        ("exported sha256", f"`{model['exported_sha256']}`"),
        ("target", f"{meta['target']['name']}: {meta['target']['description'] or meta['target']['arch']}"),
        (
            "validation",
            f"{val.get('status')}: max abs diff {_fmt(val.get('max_abs_diff'), '.2e')}, cosine "
            f"{_fmt(val.get('cosine_similarity'), '.6f')}, top-1 agreement {_fmt(val.get('top1_agreement'), '.0%')} "
            f"on {val.get('samples', 'n/a')} inputs",
        ),
    ]
    if acc:
        rows.append(
            (
                "accuracy",
                f"{acc.get('metric')}: source {_fmt(acc.get('source'), '.2f')}, this model "
                f"{_fmt(acc.get('artifact'), '.2f')} (drop {_fmt(acc.get('drop'), '.2f')} points) on "
                f"{acc.get('samples')} samples",
            )
        )
    labels = meta.get("labels")
    if labels:
        shown = ", ".join(f"`{label}`" for label in labels[:5]) + (", …" if len(labels) > 5 else "")
        rows.append(("labels", f"{len(labels)}: {shown}"))
    return rows


def _common(bundle: Bundle) -> dict[str, Any]:
    """What every README template reads, including the model section (_model.md.j2)."""
    meta = bundle.metadata
    return {
        "name": bundle.name,
        "class_name": bundle.class_name,
        "version": bundle.version,
        "edgekit_version": __version__,
        "model_file": bundle.model_file,
        "metadata_file": bundle.metadata_file,
        "runtime": runtime_name(bundle.format),
        "format": bundle.format,
        "facts": _facts(meta),
        "inputs": [{**s, "normalization_text": _norm(s), "quantization_text": _quant(s)} for s in meta["inputs"]],
        "outputs": [{**s, "quantization_text": _quant(s)} for s in meta["outputs"]],
    }


def android(bundle: Bundle, kotlin_path: str, package: str) -> str:
    return TEMPLATES.render(
        "android/README.md.j2",
        **_common(bundle),
        kotlin_path=kotlin_path,
        package=package,
        gradle=bundle.dependencies("android"),
    )


def ios(bundle: Bundle, folder: str) -> str:
    return TEMPLATES.render(
        "ios/README.md.j2",
        **_common(bundle),
        folder=folder,
        spm=bundle.dependencies("spm"),
        pods=bundle.dependencies("cocoapods"),
    )


def linux(bundle: Bundle, folder: str, wheel: str, package: str, platform: str) -> str:
    return TEMPLATES.render(
        "linux/README.md.j2",
        **_common(bundle),
        folder=folder,
        wheel=wheel,
        package=package,
        docker_platform=platform,
        python_deps=bundle.dependencies("python"),
    )
