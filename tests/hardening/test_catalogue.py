"""The bad-input catalogue: every case through the real CLI, one table.

Each case builds its bad input, runs one command line and expects the documented exit
code, exactly one `edgekit: error:` line naming the problem, no traceback, and no new or
modified file in the output folder (nor next to the inputs). Payload cases also prove
that the code inside the file never ran.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import assert_clean_error, snapshot
from tests.hardening import inputs as bad
from tests.hardening.conftest import Arg, Mounts, copy_artifact, edgekit, leftovers

pytestmark = pytest.mark.timeout(300)


@dataclass
class Work:
    """A case's folders and fixtures: `inp` holds its inputs, `out` is the output location."""

    inp: Path
    out: Path
    tiny: dict[str, Path]
    artifact: Path
    mounts: Mounts
    env: dict[str, str] = field(default_factory=dict)

    @property
    def marker(self) -> Path:
        """Created by a payload if it ever runs."""
        return self.inp.parent / "PAYLOAD-RAN"

    def export(self, model: Arg, *args: Arg) -> list[Arg]:
        return ["export", model, "--format", "onnx", *args, "-o", self.out / "m.onnx"]

    def quantize(self, calibration: Path) -> list[Arg]:
        return self.export(self.tiny["cnn.pt2"], "--quantize", "int8", "--calibration", calibration)

    def package(self, *args: Arg, platform: str = "android", suffix: str = ".aar") -> list[Arg]:
        return ["package", *args, "--platform", platform, "-o", self.out / f"m{suffix}"]


@dataclass(frozen=True)
class Case:
    id: str
    build: Callable[[Work], list[Arg]]  # makes the bad input, returns the command line
    code: int
    needle: str


def _manifest_edit(w: Work, change: Callable[[dict], None]) -> Path:
    import json

    artifact = copy_artifact(w.artifact, w.inp)
    manifest = artifact.with_name(artifact.name + ".json")
    data = json.loads(manifest.read_text())
    change(data)
    manifest.write_text(json.dumps(data))
    return artifact


def _read_only(w: Work) -> list[Arg]:
    w.mounts.tmpfs(w.out)
    (w.out / "earlier.onnx").write_bytes(b"an earlier artifact")
    w.mounts.read_only(w.out)
    return w.export(w.tiny["cnn.pt2"])


def _full(w: Work) -> list[Arg]:
    w.mounts.tmpfs(w.out, size="64k")
    w.mounts.fill(w.out)
    return w.export(w.tiny["cnn.pt2"])


def _target_file(w: Work) -> list[Arg]:
    folder = w.inp / "targets"
    folder.mkdir()
    (folder / "board.toml").write_text(
        'name = "board"\ndescription = "d"\narch = "aarch64"\ndocker_platform = "linux/arm64"\n'
        'qemu_cpu = "cortex-a72"\ncores = 4\nclock_ghz = "fast"\nmemory_mb = 1024\nos = "linux"\n'
        'preferred_formats = ["onnx"]\ndefault_precision = "fp32"\nisa = 5\n'
    )
    w.env["EDGEKIT_TARGETS_PATH"] = str(folder)
    return w.export(w.tiny["cnn.pt2"], "--target", "board")


def _recipe_file(w: Work) -> list[Arg]:
    folder = w.inp / "recipes"
    folder.mkdir()
    (folder / "mine.toml").write_bytes(b'name = "mine"\ndescription = "\xff\xfe"\n')
    w.env["EDGEKIT_RECIPES_PATH"] = str(folder)
    return w.export(w.tiny["cnn.pt2"], "--quantize", "int8-dynamic")


def _deep_path(w: Work) -> Path:
    return w.out.joinpath(*["d" * 200] * 25, "m.onnx")  # over PATH_MAX (4096 bytes)


CASES = [
    # --- model files: empty, truncated, random bytes, lying extensions
    Case("zero-byte-torch", lambda w: w.export(bad.write(w.inp / "m.pt", b"")), 3, "is empty (0 bytes)"),
    Case("zero-byte-onnx", lambda w: w.export(bad.write(w.inp / "m.onnx", b"")), 3, "is empty (0 bytes)"),
    Case(
        "truncated-torchscript",
        lambda w: w.export(bad.truncated(w.tiny["cnn.pt"], w.inp / "m.pt")),
        3,
        "damaged zip archive",
    ),
    Case(
        "truncated-exported-program",
        lambda w: w.export(bad.truncated(w.tiny["cnn.pt2"], w.inp / "m.pt2")),
        3,
        "damaged zip archive",
    ),
    Case(
        "truncated-keras",
        lambda w: w.export(bad.truncated(w.tiny["cnn.keras"], w.inp / "m.keras")),
        3,
        "damaged zip archive",
    ),
    Case(
        "truncated-h5",
        lambda w: w.export(bad.truncated(w.tiny["cnn.h5"], w.inp / "m.h5")),
        3,
        "cannot load keras model m.h5",
    ),
    Case(
        "truncated-onnx",
        lambda w: w.export(bad.truncated(w.tiny["cnn.onnx"], w.inp / "m.onnx")),
        3,
        "not a model edgekit recognises",
    ),
    Case("random-bytes-torch", lambda w: w.export(bad.random_bytes(w.inp / "m.pt")), 3, "not a model"),
    Case("random-bytes-keras", lambda w: w.export(bad.random_bytes(w.inp / "m.keras")), 3, "not a model"),
    Case(
        "random-bytes-hdf5",
        lambda w: w.export(bad.random_bytes(w.inp / "m.h5", prefix=b"\x89HDF\r\n\x1a\n")),
        3,
        "cannot load keras model",
    ),
    Case(
        "extension-lies-npz-as-pt",
        lambda w: w.export(bad.npz(w.inp / "d.npz", x=bad.images()).rename(w.inp / "m.pt")),
        3,
        "zip archive but not a model",
    ),
    Case(
        "extension-lies-text-as-onnx",
        lambda w: w.export(bad.write(w.inp / "m.onnx", b"just text\n" * 20)),
        3,
        "looks like text",
    ),
    Case(
        "artifact-given-as-source",
        lambda w: w.export(bad.write(w.inp / "m.pt", b"\x00\x00\x00\x00ET12" + bytes(64))),
        4,
        "already an exported executorch",
    ),
    Case(
        "corrupt-tflite-as-source",
        lambda w: w.export(bad.write(w.inp / "m.pt", b"\x1c\x00\x00\x00TFL3" + bytes(64))),
        3,
        "corrupt tflite",
    ),
    # --- files that would run code when loaded
    Case(
        "zip-path-traversal",
        lambda w: w.export(
            bad.zip_with_entry(w.tiny["cnn.pt"], w.inp / "m.pt", "cnn/../../../tmp/evil.py", b"print('hi')")
        ),
        11,
        "escaping its root",
    ),
    Case(
        "torch-pickle-payload",
        lambda w: w.export(bad.torch_pickle(w.inp / "m.pt", w.marker), "--input-shape", "1,1,8,8"),
        11,
        "full pickle",
    ),
    Case(
        "legacy-pickle-payload",
        lambda w: w.export(bad.legacy_pickle(w.inp / "m.pt", w.marker), "--input-shape", "1,1,8,8"),
        11,
        "full pickle",
    ),
    Case(
        "exported-program-pickle-payload",
        lambda w: w.export(bad.pt2_with_pickle(w.tiny["cnn.pt2"], w.inp / "m.pt2", w.marker)),
        11,
        "stores pickled python objects",
    ),
    Case("keras-lambda-layer", lambda w: w.export(bad.keras_lambda(w.inp / "m.keras", w.marker)), 11, "lambda layer"),
    Case(
        "model-class-that-fails",
        lambda w: w.export(w.tiny["cnn_state.pt"], "--model-class", "torch.nn:Linear", "--input-shape", "1,1,8,8"),
        2,
        "failed to build the model",
    ),
    # --- ONNX and TFLite structure
    Case(
        "onnx-missing-initializer",
        lambda w: w.export(bad.onnx_without_initializer(w.tiny["cnn.onnx"], w.inp / "m.onnx")),
        3,
        "not a valid onnx model",
    ),
    Case(
        "onnx-unknown-op",
        lambda w: w.export(bad.onnx_model(w.inp / "m.onnx", op="FrobnicateOp")),
        3,
        "no op registered for frobnicateop",
    ),
    Case("onnx-opset-runtime-lacks", lambda w: w.export(bad.onnx_model(w.inp / "m.onnx", opset=99)), 3, "opset"),
    Case(
        "tflite-corrupt-flatbuffer",
        lambda w: [
            "profile",
            bad.random_bytes(w.inp / "m.tflite", prefix=b"\x1c\x00\x00\x00TFL3"),
            "--target",
            "host",
            "--backend",
            "host",
            "--report",
            w.out / "report",
        ],
        3,
        "corrupt tflite model",
    ),
    # --- shapes
    Case(
        "dynamic-dims",
        lambda w: w.export(bad.onnx_model(w.inp / "m.onnx", shape=[1, 3, "h", "w"])),
        2,
        "has dynamic dimension",
    ),
    Case(
        "zero-dim-declared",
        lambda w: w.export(bad.onnx_model(w.inp / "m.onnx", shape=[1, 0, 8, 8])),
        2,
        "zero or negative dimension",
    ),
    Case(
        "absurd-shape-declared",
        lambda w: w.export(bad.onnx_model(w.inp / "m.onnx", shape=[1, 3, 100000, 100000])),
        2,
        "above the limit",
    ),
    Case(
        "absurd-shape-flag",
        lambda w: w.export(w.tiny["cnn.pt"], "--input-shape", "1,3,100000,100000"),
        2,
        "above the limit",
    ),
    Case(
        "shape-contradicts-model",
        lambda w: w.export(w.tiny["cnn.pt2"], "--input-shape", "1,1,9,9"),
        2,
        "contradicts the model",
    ),
    # --- calibration, evaluation and labels data
    Case(
        "calibration-wrong-shape",
        lambda w: w.quantize(bad.npz(w.inp / "c.npz", x=bad.images((4, 1, 9, 9)))),
        7,
        "samples of shape [1, 9, 9]",
    ),
    Case(
        "calibration-wrong-dtype",
        lambda w: w.quantize(bad.npz(w.inp / "c.npz", x=np.array([["a"]] * 4))),
        7,
        "expected numbers",
    ),
    Case(
        "calibration-nan",
        lambda w: w.quantize(bad.npz(w.inp / "c.npz", x=np.full((4, 1, 8, 8), np.nan))),
        7,
        "nan or inf",
    ),
    Case(
        "calibration-inf",
        lambda w: w.quantize(bad.npz(w.inp / "c.npz", x=np.full((4, 1, 8, 8), np.inf))),
        7,
        "nan or inf",
    ),
    Case(
        "calibration-empty",
        lambda w: w.quantize(bad.npz(w.inp / "c.npz", x=np.zeros((0, 1, 8, 8), "f4"))),
        7,
        "is empty",
    ),
    Case(
        "calibration-pickled-objects",
        lambda w: w.quantize(bad.npz(w.inp / "c.npz", x=np.array([{"a": 1}] * 4, dtype=object))),
        7,
        "pickled python objects",
    ),
    Case(
        "calibration-forged-header",
        lambda w: w.quantize(bad.npy_forged_header(w.inp / "c.npy", (10**9, 1, 8, 8))),
        7,
        "above the limit",
    ),
    Case(
        "calibration-truncated",
        lambda w: w.quantize(bad.npy_forged_header(w.inp / "c.npy", (4, 1, 8, 8))),
        7,
        "needs 1,024 bytes but the file holds",
    ),
    Case(
        "eval-labels-wrong-length",
        lambda w: w.export(w.tiny["cnn.pt2"], "--eval", bad.npz(w.inp / "e.npz", x=bad.images(), y=np.arange(2))),
        7,
        "2 labels for 4 inputs",
    ),
    Case(
        "eval-labels-one-hot",
        lambda w: w.export(
            w.tiny["cnn.pt2"], "--eval", bad.npz(w.inp / "e.npz", x=bad.images(), y=np.eye(4, 10, dtype=np.int64))
        ),
        7,
        "1-d integer array",
    ),
    Case(
        "labels-file-wrong-length",
        lambda w: w.package(
            copy_artifact(w.artifact, w.inp), "--labels", bad.write(w.inp / "labels.txt", b"cat\ndog\n")
        ),
        7,
        "has 2 labels",
    ),
    # --- names the registries do not know
    Case("unknown-target", lambda w: w.export(w.tiny["cnn.pt2"], "--target", "raspi9"), 2, "unknown target"),
    Case("unknown-recipe", lambda w: w.export(w.tiny["cnn.pt2"], "--recipe", "int4_magic"), 2, "unknown recipe"),
    Case(
        "unknown-format",
        lambda w: ["export", w.tiny["cnn.pt2"], "--format", "coreml", "-o", w.out / "m.ml"],
        2,
        "unknown format",
    ),
    Case("unknown-precision", lambda w: w.export(w.tiny["cnn.pt2"], "--quantize", "int3"), 2, "'int3'"),
    Case("unknown-platform", lambda w: w.package(copy_artifact(w.artifact, w.inp), platform="windows"), 2, "'windows'"),
    Case("target-file-wrong-type", _target_file, 2, "clock_ghz must be a number"),
    Case("recipe-file-not-utf8", _recipe_file, 2, "is not utf-8 text"),
    # --- manifests of artifacts
    Case(
        "manifest-missing",
        lambda w: w.package(bad.write(w.inp / "m.onnx", w.artifact.read_bytes())),
        13,
        "has no manifest",
    ),
    Case(
        "manifest-tampered-artifact",
        lambda w: w.package(bad.write(copy_artifact(w.artifact, w.inp), w.artifact.read_bytes() + b"\0")),
        13,
        "no longer matches",
    ),
    Case(
        "manifest-malformed",
        lambda w: w.package(_manifest_edit(w, lambda m: m.update(inputs="x"))),
        13,
        "inputs must be a list of tensors",
    ),
    # --- output locations
    Case(
        "output-is-a-directory",
        lambda w: ["export", w.tiny["cnn.pt2"], "-f", "onnx", "-o", w.out],
        10,
        "is a directory",
    ),
    Case("output-read-only", _read_only, 10, "not writable"),
    Case("output-disk-full", _full, 10, "no space left"),
    # --- file names
    Case(
        "name-not-utf8",
        lambda w: w.export(bad.random_bytes(Path(os.fsdecode(os.fsencode(w.inp) + b"/m\xff\xfe.pt")))),
        3,
        "m\\udcff\\udcfe.pt is not a model",
    ),
    Case(
        "name-component-too-long",
        lambda w: ["export", w.tiny["cnn.pt2"], "-f", "onnx", "-o", w.out / ("a" * 256 + ".onnx")],
        10,
        "file name too long",
    ),
    Case(
        "path-over-path-max",
        lambda w: ["export", w.tiny["cnn.pt2"], "-f", "onnx", "-o", _deep_path(w)],
        10,
        "file name too long",
    ),
    Case("model-name-too-long", lambda w: w.export(w.inp / ("m" * 300 + ".pt")), 3, "cannot open model file"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_clear_error_and_changes_nothing(
    case: Case, tiny: dict[str, Path], onnx_artifact: Path, mounts: Mounts, tmp_path: Path
) -> None:
    work = Work(inp=tmp_path / "in", out=tmp_path / "out", tiny=tiny, artifact=onnx_artifact, mounts=mounts)
    work.inp.mkdir()
    work.out.mkdir()
    args = case.build(work)
    before = (snapshot(work.inp), snapshot(work.out))
    result = edgekit(*args, env=work.env)
    assert_clean_error(result, case.code, case.needle)
    assert (snapshot(work.inp), snapshot(work.out)) == before
    assert not leftovers(work.inp, work.out) and not work.marker.exists()


def test_the_catalogue_is_complete() -> None:
    assert len(CASES) >= 30 and len({c.id for c in CASES}) == len(CASES)
    assert {c.code for c in CASES} >= {2, 3, 4, 7, 10, 11, 13}
