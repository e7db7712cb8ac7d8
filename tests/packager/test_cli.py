"""`edgekit package` through the real CLI: errors leave nothing behind; same input, same bytes."""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from pathlib import Path

import pytest

from edge_kit.fsutil import sha256_file
from edge_kit.manifest import manifest_path
from edge_kit.packager import PackageRequest, package
from tests.conftest import SAMPLES, assert_clean_error, run_cli, snapshot, torch_reference
from tests.packager.conftest import SUFFIX, needs_emulation


def _copy(artifact: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy2(artifact, folder / artifact.name)
    shutil.copy2(manifest_path(artifact), manifest_path(folder / artifact.name))
    return folder / artifact.name


def _assert_nothing_written(folder: Path, before: dict, dest: Path) -> None:
    assert snapshot(folder) == before and not dest.exists()
    assert not [p for p in folder.parent.rglob(".edgekit-tmp-*")]


@pytest.mark.parametrize("platform", list(SUFFIX))
def test_a_tampered_artifact_is_refused_and_nothing_is_written(artifacts, tmp_path: Path, platform: str):
    artifact = _copy(artifacts[("digits", "onnx")], tmp_path / "in")
    with open(artifact, "r+b") as handle:  # flip one byte in the middle: same size, other sha256
        handle.seek(artifact.stat().st_size // 2)
        byte = handle.read(1)
        handle.seek(-1, 1)
        handle.write(bytes([byte[0] ^ 0xFF]))
    before, dest = snapshot(tmp_path), tmp_path / "out" / f"d{SUFFIX[platform]}"
    result = run_cli("package", artifact, "--platform", platform, "-o", dest)
    assert_clean_error(result, 13, "no longer matches its manifest")
    _assert_nothing_written(tmp_path, before, dest)


def test_a_missing_manifest_is_refused_and_nothing_is_written(artifacts, tmp_path: Path):
    artifact = _copy(artifacts[("digits", "tflite")], tmp_path / "in")
    manifest_path(artifact).unlink()
    before, dest = snapshot(tmp_path), tmp_path / "in" / "d.aar"
    result = run_cli("package", artifact, "-p", "android", "-o", dest)
    assert_clean_error(result, 13, "has no manifest")
    _assert_nothing_written(tmp_path, before, dest)


def test_labels_that_do_not_match_the_output_are_refused_and_nothing_is_written(artifacts, tmp_path: Path):
    artifact = _copy(artifacts[("mnist", "executorch")], tmp_path / "in")
    labels = tmp_path / "in" / "labels.txt"
    labels.write_text("".join(f"{i}\n" for i in range(9)))
    before, dest = snapshot(tmp_path), tmp_path / "in" / "m.zip"
    result = run_cli("package", artifact, "-p", "ios", "--labels", labels, "-o", dest)
    assert_clean_error(result, 7, "labels.txt has 9 labels but output", "10 classes")
    _assert_nothing_written(tmp_path, before, dest)


def test_a_ptl_artifact_is_refused_naming_the_formats_that_work(artifacts, tmp_path: Path):
    artifact = tmp_path / "m.ptl"
    with zipfile.ZipFile(artifact, "w") as archive:  # a lite-interpreter archive's layout (format by content)
        archive.writestr("m/bytecode.pkl", b"")
        archive.writestr("m/data.pkl", b"")
    manifest = json.loads(manifest_path(artifacts[("digits", "onnx")]).read_text())  # a real one, made a ptl's
    manifest["artifact"] = {
        "file": "m.ptl",
        "format": "ptl",
        "runtime": "torch-lite-interpreter",
        "precision": "fp32",
        "sha256": sha256_file(artifact),
        "size_bytes": artifact.stat().st_size,
        "frozen": True,
    }
    manifest_path(artifact).write_text(json.dumps(manifest))
    result = run_cli("package", artifact, "-p", "android")
    assert_clean_error(result, 4, "not ptl", "tflite, onnx, executorch")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.ptl", "m.ptl.json"]


@pytest.mark.parametrize(
    "args, code, needle",
    [
        (["-p", "ios", "--verify-on", "raspi"], 2, "--verify-on runs linux bundles"),
        (["-p", "linux", "--verify-on", "nowhere"], 2, "unknown target"),
        (["-p", "linux", "-o", "x.zip"], 2, "linux bundles are .tar.gz files"),
        (["-p", "android", "--name", "Bad-Name"], 2, "invalid bundle name"),
        (["-p", "android", "--mean", "0.1,0.2"], 2, "--mean has 2 values"),
    ],
)
def test_bad_arguments_are_usage_errors(artifacts, tmp_path: Path, args: list[str], code: int, needle: str):
    artifact = _copy(artifacts[("digits", "onnx")], tmp_path / "in")
    before = snapshot(tmp_path)
    result = run_cli("package", artifact, *args, cwd=tmp_path)
    assert_clean_error(result, code, needle)
    assert snapshot(tmp_path) == before


def test_packaging_the_same_artifact_twice_gives_identical_bytes(artifacts, bundles, labels_file, tmp_path: Path):
    from edge_kit.packager import Normalization

    for (platform, model, fmt), first in bundles.items():
        extra = (
            {"labels": labels_file}
            if model == "digits"
            else {"normalization": Normalization(scale=0.5, mean=(0.0,), std=(127.5,))}
        )
        again = package(
            PackageRequest(
                artifact=artifacts[(model, fmt)], platform=platform, output=tmp_path / f"again-{first.name}", **extra
            )
        )
        assert again.archive.read_bytes() == first.read_bytes(), (platform, model, fmt)


def test_the_cli_writes_exactly_o_and_reports_json_reproducibly(artifacts, tmp_path: Path):
    artifact = artifacts[("digits", "tflite")]
    digests = []
    for name in ("one", "two"):
        dest = tmp_path / name / "digits.aar"
        result = run_cli("package", artifact, "-p", "android", "-o", dest, "--json")
        assert result.code == 0, result.stderr[-2000:]
        report = json.loads(result.stdout)
        assert report["archive"] == str(dest) and report["sha256"] == hashlib.sha256(dest.read_bytes()).hexdigest()
        assert report["dependencies"] == {"android": ['implementation("com.google.ai.edge.litert:litert:2.3.0")']}
        assert sorted(p.name for p in dest.parent.iterdir()) == ["digits.aar"]
        digests.append(report["sha256"])
    assert digests[0] == digests[1]


@needs_emulation
def test_verify_on_installs_the_wheel_in_the_emulated_raspi_before_writing(artifacts, tmp_path: Path):
    dest = tmp_path / "digits-linux.tar.gz"
    result = run_cli(
        "package",
        artifacts[("digits", "onnx")],
        "-p",
        "linux",
        "-o",
        dest,
        "--verify-on",
        "raspi",
        "--samples",
        SAMPLES / "digits_eval.npz",
        "--json",
    )
    assert result.code == 0, result.stderr[-2000:]
    check = json.loads(result.stdout)["verification"]
    assert (check["target"], check["samples"], check["top1_matched"]) == ("raspi4", 450, 450)
    source_accuracy = torch_reference(SAMPLES / "digits_cnn.pt2", SAMPLES / "digits_eval.npz")[0]
    assert check["target_accuracy"] == pytest.approx(source_accuracy, abs=0.01) and dest.is_file()
