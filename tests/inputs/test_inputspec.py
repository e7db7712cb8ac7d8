"""Per-input specs: parsing, resolution against declared signatures, sample data per kind."""

from __future__ import annotations

import numpy as np
import pytest

from edge_kit.errors import UsageError
from edge_kit.inputspec import InputRequest, input_specs, parse_dim, parse_input_spec, resolve, sample, sizes
from edge_kit.signature import DimRange, TensorSpec

VAD = [TensorSpec("input", (None, None)), TensorSpec("state", (2, None, 128)), TensorSpec("sr", (), "int64")]
YOLO = [TensorSpec("images", (None, 3, None, None), dims=("batch", None, "height", "width"), layout="NCHW")]
BERT = [
    TensorSpec("input_ids", (1, None), "int64", dims=(None, "seq"), kind="tokens", high=30522.0),
    TensorSpec("attention_mask", (1, None), "int64", dims=(None, "seq")),
]


def test_grammar() -> None:
    assert parse_input_spec("sr=:int64:16000") == parse_input_spec("sr=[]:int64:const=16000")
    spec = parse_input_spec("sr=:int64:16000")
    assert (spec.shape, spec.dtype, spec.kind, spec.value) == ((), "int64", "const", 16000.0)
    ids = parse_input_spec("input_ids=1,seq:int64:tokens<500")
    assert (ids.shape, ids.kind, ids.high) == ((1, "seq"), "tokens", 500.0)
    assert parse_input_spec("x=1x3x8x8::0..255").shape == (1, 3, 8, 8)
    assert parse_input_spec("x=1x3x8x8::0..255").low == 0.0
    assert parse_input_spec("0=1,max_x").shape == (1, "max_x")  # an x inside a name is not a separator
    assert parse_dim("seq=8..128") == ("seq", DimRange(8, 128)) and parse_dim("h=320") == ("h", 320)
    for bad in ("sr", "x=1,3:float99", "x=1,3::tokens<", "x=1,?", "x=1:a:b:c"):
        with pytest.raises(UsageError, match=r"input spec|dtype"):
            parse_input_spec(bad)
    for bad in ("seq", "seq=0", "seq=9..3", "s q=3"):
        with pytest.raises(UsageError, match="--dim"):
            parse_dim(bad)


def test_api_forms() -> None:
    specs = input_specs({"sr": {"shape": (), "dtype": "int64", "value": 8000}, "input": "1,512"})
    assert specs[0].kind == "const" and specs[0].value == 8000 and specs[1].shape == (1, 512)
    assert sizes({"seq": (8, 128), "h": 320, "w": "16..32"}) == {
        "seq": DimRange(8, 128),
        "h": 320,
        "w": DimRange(16, 32),
    }
    with pytest.raises(UsageError, match="unknown field"):
        input_specs({"sr": {"shape": (), "colour": 1}})


def test_scalar_integer_input_needs_its_value() -> None:
    with pytest.raises(UsageError, match=r"--input-spec sr=:int64:16000"):
        resolve(VAD, InputRequest(specs=input_specs(["input=1,512", "state=2,1,128"])), "onnx")
    signature = resolve(
        VAD, InputRequest(specs=input_specs(["input=1,512", "state=2,1,128", "sr=:int64:16000"])), "onnx"
    )
    assert [s.shape for s in signature.inputs] == [(1, 512), (2, 1, 128), ()]
    assert signature.inputs[2].kind == "const" and not signature.ranges


def test_a_contradiction_and_an_unknown_input_are_named() -> None:
    with pytest.raises(UsageError, match="contradicts the model's declared input 'sr'"):
        resolve(VAD, InputRequest(specs=input_specs(["sr=1"])), "onnx")
    with pytest.raises(UsageError, match=r"no input 'audio'.*input, state, sr"):
        resolve(VAD, InputRequest(specs=input_specs(["audio=1,512"])), "onnx")
    with pytest.raises(UsageError, match="no dimension of that name"):
        resolve(YOLO, InputRequest(dims={"seq": 3}), "onnx")


def test_missing_sizes_are_proposed_from_the_model_never_224_for_a_batch_or_sequence() -> None:
    with pytest.raises(UsageError, match="--dim height=320") as found:
        resolve(YOLO, InputRequest(), "onnx", suggested={"height": 320, "width": 320})
    assert "batch" not in str(found.value)
    tokens = [TensorSpec("ids", (None, None), "int64", dims=("batch", "seq"))]
    with pytest.raises(UsageError, match="--dim seq=128"):
        resolve(tokens, InputRequest(), "onnx")
    audio = [TensorSpec("wave", (1, None), dims=(None, "samples"))]
    with pytest.raises(UsageError) as found:
        resolve(audio, InputRequest(), "onnx")
    assert "224" not in str(found.value) and "--dim samples=SIZE" in str(found.value)


def test_dynamic_dims_stay_dynamic_with_bounds_or_are_fixed() -> None:
    kept = resolve(BERT, InputRequest(), "torch", model_ranges={"seq": DimRange(8, 128)})
    assert kept.ranges == {"seq": DimRange(8, 128)} and kept.inputs[0].dims == (None, "seq")
    assert kept.inputs[0].shape == (1, 128) and kept.inputs[1].kind == "mask" and kept.inputs[0].high == 30522
    assert [s["seq"] for s in kept.size_sets()] == [8, 68, 128]
    fixed = resolve(BERT, InputRequest(dims={"seq": 64}), "torch", model_ranges={"seq": DimRange(8, 128)})
    assert not fixed.ranges and fixed.inputs[0].shape == (1, 64) and fixed.inputs[0].dims == ()
    batch = resolve(YOLO, InputRequest(dims={"height": 320, "width": 320}), "onnx")
    assert batch.inputs[0].shape == (1, 3, 320, 320)


def test_samples_fit_each_kind() -> None:
    specs = [
        TensorSpec("ids", (1, 16), "int64", kind="tokens", high=50.0),
        TensorSpec("mask", (1, 16), "int64", kind="mask"),
        TensorSpec("sr", (), "int64", kind="const", value=16000.0),
        TensorSpec("x", (1, 4), low=-2.0, high=-1.0),
    ]
    batches = sample(specs, 4, seed=0, low=0.0, high=30000.0)
    for i, (ids, mask, sr, x) in enumerate(batches):
        assert ids.min() >= 0 and ids.max() < 50 and mask.dtype == np.int64
        assert mask.all() == (i % 2 == 0) and mask[0, 0] == 1  # every other sample padded at the end
        assert sr.shape == () and int(sr) == 16000 and (-2 <= x).all() and (x < -1).all()


def test_data_files_carry_a_scalar_input_as_one_value_or_one_per_sample() -> None:
    """An .npz for silero's (x, sr): x as [N, 1, 512] samples, sr as one 0-d value shared by all
    samples or as [N] values — each batch gets a 0-d sr."""
    from edge_kit.data import input_batches

    specs = [TensorSpec("x", (1, 512), "float32"), TensorSpec("sr", (), "int64")]
    x = np.zeros((3, 512), np.float32)
    for sr in (np.array(16000), np.full(3, 16000)):
        batches = input_batches({"x": x, "sr": sr}, specs, "in.npz")
        assert len(batches) == 3
        assert [b[0].shape for b in batches] == [(1, 512)] * 3 and all(b[1].shape == () for b in batches)
