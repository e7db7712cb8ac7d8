import os
import zipfile
from pathlib import Path

import pytest

from edge_kit.errors import ModelLoadError, TrustError
from edge_kit.models.sniff import Kind, sniff


@pytest.mark.parametrize(
    "name, kind",
    [
        ("cnn.pt", Kind.TORCHSCRIPT),
        ("cnn.pt2", Kind.EXPORTED_PROGRAM),
        ("cnn_state.pt", Kind.TORCH_PICKLE),
        ("cnn_full.pt", Kind.TORCH_PICKLE),
        ("cnn.keras", Kind.KERAS),
        ("cnn.h5", Kind.KERAS_H5),
        ("cnn_sm", Kind.SAVED_MODEL),
        ("cnn.onnx", Kind.ONNX),
    ],
)
def test_kinds_are_detected_by_content(tiny: dict, name: str, kind: Kind):
    assert sniff(tiny[name]) is kind


def test_an_extension_that_lies_does_not_fool_detection(tiny: dict, tmp_path: Path):
    liar = tmp_path / "model.onnx"
    liar.write_bytes(tiny["cnn.pt"].read_bytes())
    assert sniff(liar) is Kind.TORCHSCRIPT


@pytest.mark.parametrize(
    "content, needle",
    [(b"", "empty"), (os.urandom(4096), "not a model"), (b"this is just text\n" * 10, "looks like text")],
)
def test_garbage_is_a_clear_load_error(tmp_path: Path, content: bytes, needle: str):
    path = tmp_path / "model.pt"
    path.write_bytes(content)
    with pytest.raises(ModelLoadError, match=needle):
        sniff(path)


def test_zip_with_path_traversal_is_refused(tmp_path: Path):
    path = tmp_path / "evil.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("evil/../../etc/passwd", "root")
        archive.writestr("evil/data.pkl", b"\x80\x02}q\x00.")
    with pytest.raises(TrustError, match="escaping"):
        sniff(path)


def test_truncated_zip_is_a_clear_error(tiny: dict, tmp_path: Path):
    path = tmp_path / "cut.pt"
    data = tiny["cnn.pt"].read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelLoadError):
        sniff(path)
