"""The zoo: outside models, each with how it is built offline and its inputs.

Four origins: timm and transformers architectures from configs with random weights, an
ultralytics YOLO from its bundled yaml, keras.applications with `weights=None`, and real trained
models shipped inside pip wheels (silero-vad, nudenet, rapidocr-onnxruntime, mediapipe 0.10.14,
basic-pitch). `SUBSET` names the representative models the test suite runs.
"""

from __future__ import annotations

from collections.abc import Iterable

from benchmarks.zoo.builders_files import wheel_file
from benchmarks.zoo.builders_keras import keras_builder
from benchmarks.zoo.builders_torch import hf, timm_builder, transformers_builder, ultralytics_builder, whisper_encoder
from benchmarks.zoo.spec import Entry, InputSpec

IMAGE = (InputSpec("x", (1, 3, 224, 224)),)
NHWC224 = (InputSpec("input", (1, 224, 224, 3)),)
SEQ = 64  # tokens per text input
VOCAB = 8000  # small configs: real architectures, small embedding tables
TIMM_NEEDS = ("timm", "torchvision")


def _timm(arch: str, family: str, size: int = 224, notes: str = "") -> Entry:
    inputs = (InputSpec("x", (1, 3, size, size)),)
    return Entry(
        name=f"timm-{arch}",
        family=family,
        framework="timm",
        source="pt2",
        build=timm_builder(arch, inputs),
        inputs=inputs,
        how=f"timm.create_model('{arch}', pretrained=False) -> torch.export -> .pt2",
        needs=TIMM_NEEDS,
        notes=notes,
    )


def _tokens(*names: str, vocab: int = VOCAB) -> tuple[InputSpec, ...]:
    """Token ids in [0, vocab) and, for `attention_mask`, all ones (no padding)."""
    return tuple(
        InputSpec(n, (1, SEQ), "int64", value=1) if n == "attention_mask" else InputSpec(n, (1, SEQ), "int64", 0, vocab)
        for n in names
    )


def _hf(name: str, family: str, kind: str, config: str, inputs: tuple[InputSpec, ...], **settings) -> Entry:
    shown = ", ".join(f"{k}={v}" for k, v in settings.items())
    return Entry(
        name=f"hf-{name}",
        family=family,
        framework="transformers",
        source="pt2",
        build=transformers_builder(hf(kind, config, **settings), inputs),
        inputs=inputs,
        how=f"transformers.{kind}({config}({shown})), first output -> torch.export -> .pt2",
        needs=("transformers",),
    )


def _keras(name: str, family: str, size: int = 224, **kwargs) -> Entry:
    inputs = (InputSpec("input", (1, size, size, 3)),)
    return Entry(
        name=f"keras-{name.lower()}",
        family=family,
        framework="keras",
        source="keras",
        build=keras_builder(name, (size, size, 3), **kwargs),
        inputs=inputs,
        how=f"keras.applications.{name}(weights=None, input_shape=({size}, {size}, 3)) -> model.save(.keras)",
        needs=("keras",),
    )


def _wheel(name: str, family: str, package: str, pip: str, relative: str, source: str, inputs, **kw) -> Entry:
    return Entry(
        name=name,
        family=family,
        framework=pip,
        source=source,
        build=wheel_file(package, relative),
        inputs=inputs,
        how=f"the trained file {relative} inside the {pip} wheel, copied as is",
        needs=(package,),
        pretrained=True,
        **kw,
    )


BERT = dict(hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024)
TIMM = [
    _timm("resnet18", "cnn"),
    _timm("mobilenetv2_100", "cnn-mobile"),
    _timm("mobilenetv3_small_100", "cnn-mobile"),
    _timm("efficientnet_b0", "cnn-mobile"),
    _timm("ghostnet_100", "cnn-mobile"),
    _timm("regnetx_002", "cnn"),
    _timm("convnext_atto", "cnn-modern"),
    _timm("edgenext_xx_small", "hybrid", size=256),
    _timm("mobilevit_xxs", "hybrid", size=256),
    _timm("vit_tiny_patch16_224", "vit"),
]
TRANSFORMERS = [
    _hf(
        "bert",
        "text-encoder",
        "BertModel",
        "BertConfig",
        _tokens("input_ids", "attention_mask"),
        vocab_size=VOCAB,
        **BERT,
    ),
    _hf(
        "distilbert",
        "text-classifier",
        "DistilBertForSequenceClassification",
        "DistilBertConfig",
        _tokens("input_ids", "attention_mask"),
        vocab_size=VOCAB,
        dim=256,
        n_layers=3,
        n_heads=4,
        hidden_dim=1024,
        num_labels=4,
    ),
    _hf("roberta", "text-mlm", "RobertaForMaskedLM", "RobertaConfig", _tokens("input_ids"), vocab_size=VOCAB, **BERT),
    _hf(
        "albert",
        "text-encoder",
        "AlbertModel",
        "AlbertConfig",
        _tokens("input_ids"),
        vocab_size=VOCAB,
        embedding_size=128,
        hidden_size=256,
        num_hidden_layers=4,
        num_attention_heads=4,
        intermediate_size=1024,
    ),
    _hf(
        "gpt2",
        "text-decoder",
        "GPT2LMHeadModel",
        "GPT2Config",
        _tokens("input_ids"),
        vocab_size=VOCAB,
        n_positions=256,
        n_embd=256,
        n_layer=4,
        n_head=4,
        use_cache=False,
    ),
    _hf(
        "vit",
        "vit",
        "ViTForImageClassification",
        "ViTConfig",
        (InputSpec("pixel_values", (1, 3, 224, 224)),),
        hidden_size=192,
        num_hidden_layers=6,
        num_attention_heads=3,
        intermediate_size=768,
        num_labels=1000,
    ),
    _hf(
        "mobilevit",
        "hybrid",
        "MobileViTForImageClassification",
        "MobileViTConfig",
        (InputSpec("pixel_values", (1, 3, 256, 256)),),
        num_labels=1000,
        initializer_range=0.2,  # HF's 0.02 makes the activations vanish: logits of 1e-40, a check of nothing
    ),
]
WHISPER_INPUTS = (InputSpec("input_features", (1, 80, 400), low=-1.0, high=1.0),)
TRANSFORMERS.append(
    Entry(
        name="hf-whisper-encoder",
        family="audio-encoder",
        framework="transformers",
        source="pt2",
        build=transformers_builder(
            whisper_encoder(
                d_model=256,
                encoder_layers=4,
                encoder_attention_heads=4,
                encoder_ffn_dim=1024,
                decoder_layers=1,
                decoder_attention_heads=4,
                num_mel_bins=80,
                max_source_positions=200,
                vocab_size=VOCAB,
                pad_token_id=0,
                bos_token_id=1,
                eos_token_id=1,
                decoder_start_token_id=1,
            ),
            WHISPER_INPUTS,
        ),
        inputs=WHISPER_INPUTS,
        how="transformers.WhisperModel(WhisperConfig(d_model=256, encoder_layers=4, ...)).get_encoder() -> .pt2",
        needs=("transformers",),
    )
)
YOLO_INPUTS = (InputSpec("images", (1, 3, 320, 320)),)
ULTRALYTICS = [
    Entry(
        name=f"ultralytics-{y}",
        family="detector",
        framework="ultralytics",
        source="pt2",
        build=ultralytics_builder(f"{y}.yaml", YOLO_INPUTS),
        inputs=YOLO_INPUTS,
        how=f"ultralytics DetectionModel('{y}.yaml') random init, fused, Detect.export=True -> .pt2",
        needs=("ultralytics", "torchvision", "cv2"),
    )
    for y in ("yolov8n", "yolo11n")
]
KERAS = [
    _keras("MobileNetV2", "cnn-mobile"),
    _keras("MobileNetV3Small", "cnn-mobile"),
    _keras("EfficientNetB0", "cnn-mobile"),
    _keras("ResNet50", "cnn"),
    _keras("DenseNet121", "cnn"),
    _keras("NASNetMobile", "cnn-nas"),
]
AUDIO = (
    InputSpec("input", (1, 512), low=-1.0, high=1.0),
    InputSpec("state", (2, 1, 128), low=-0.1, high=0.1),
    InputSpec("sr", (), "int64", value=16000),
)
MP = "modules"
WHEELS = [
    _wheel(
        "silero-vad-onnx",
        "audio-vad-rnn",
        "silero_vad",
        "silero-vad",
        "data/silero_vad.onnx",
        "onnx",
        AUDIO,
        dynamic=True,
        notes="stateful LSTM; sr is a 0-d int64 tensor; an If on the sample rate",
    ),
    _wheel(
        "silero-vad-jit",
        "audio-vad-rnn",
        "silero_vad",
        "silero-vad",
        "data/silero_vad.jit",
        "torchscript",
        (InputSpec("x", (1, 512), low=-1.0, high=1.0), AUDIO[2]),  # forward(x, sr: int)
        dynamic=True,
        notes="TorchScript forward(x, sr: int); the state lives in the module",
    ),
    _wheel(
        "nudenet-320n",
        "detector",
        "nudenet",
        "nudenet",
        "320n.onnx",
        "onnx",
        (InputSpec("images", (1, 3, 320, 320)),),
        dynamic=True,
        notes="YOLOv8n, dynamic batch and image size",
    ),
    _wheel(
        "ppocr-det",
        "ocr-detector",
        "rapidocr_onnxruntime",
        "rapidocr-onnxruntime",
        "models/ch_PP-OCRv4_det_infer.onnx",
        "onnx",
        (InputSpec("x", (1, 3, 320, 320)),),
        dynamic=True,
    ),
    _wheel(
        "ppocr-rec",
        "ocr-recognizer",
        "rapidocr_onnxruntime",
        "rapidocr-onnxruntime",
        "models/ch_PP-OCRv4_rec_infer.onnx",
        "onnx",
        (InputSpec("x", (1, 3, 48, 320)),),
        dynamic=True,
    ),
    _wheel(
        "ppocr-cls",
        "ocr-classifier",
        "rapidocr_onnxruntime",
        "rapidocr-onnxruntime",
        "models/ch_ppocr_mobile_v2.0_cls_infer.onnx",
        "onnx",
        (InputSpec("x", (1, 3, 48, 192)),),
        dynamic=True,
    ),
    _wheel(
        "mediapipe-face-detection",
        "detector",
        "mediapipe",
        "mediapipe==0.10.14",
        f"{MP}/face_detection/face_detection_short_range.tflite",
        "tflite",
        (InputSpec("input", (1, 128, 128, 3)),),
    ),
    _wheel(
        "mediapipe-hand-landmark",
        "landmarks",
        "mediapipe",
        "mediapipe==0.10.14",
        f"{MP}/hand_landmark/hand_landmark_lite.tflite",
        "tflite",
        (InputSpec("input_1", (1, 224, 224, 3)),),
    ),
    _wheel(
        "mediapipe-pose-detection",
        "detector",
        "mediapipe",
        "mediapipe==0.10.14",
        f"{MP}/pose_detection/pose_detection.tflite",
        "tflite",
        (InputSpec("input_1", (1, 224, 224, 3)),),
    ),
    _wheel(
        "mediapipe-selfie-segmentation",
        "segmentation",
        "mediapipe",
        "mediapipe==0.10.14",
        f"{MP}/selfie_segmentation/selfie_segmentation.tflite",
        "tflite",
        (InputSpec("input_1", (1, 256, 256, 3)),),
    ),
]
PITCH = (InputSpec("input_2", (1, 43844, 1), low=-1.0, high=1.0),)
PITCH_ONNX = (InputSpec("serving_default_input_2:0", (1, 43844, 1), low=-1.0, high=1.0),)  # tf2onnx's name
PITCH_DIR = "saved_models/icassp_2022"
WHEELS += [
    _wheel(
        "basic-pitch-onnx",
        "audio-cnn",
        "basic_pitch",
        "basic-pitch",
        f"{PITCH_DIR}/nmp.onnx",
        "onnx",
        PITCH_ONNX,
        dynamic=True,
        notes="3 outputs; tf2onnx export of the SavedModel below",
    ),
    _wheel("basic-pitch-tflite", "audio-cnn", "basic_pitch", "basic-pitch", f"{PITCH_DIR}/nmp.tflite", "tflite", PITCH),
    _wheel(
        "basic-pitch-savedmodel",
        "audio-cnn",
        "basic_pitch",
        "basic-pitch",
        f"{PITCH_DIR}/nmp",
        "savedmodel",
        PITCH,
        dynamic=True,
        notes="a TF SavedModel folder (batch dimension unknown)",
    ),
]

ZOO: tuple[Entry, ...] = (*TIMM, *TRANSFORMERS, *ULTRALYTICS, *KERAS, *WHEELS)

# The test suite's representative subset (tests/zoo): a timm CNN, a YOLO, a Keras CNN,
# and from wheels the real stateful VAD, ONNX detector and OCR classifier (BERT and MobileNetV2
# Keras are covered by tests/inputs and tests/exporters).
SUBSET = (
    "timm-mobilenetv3_small_100",
    "ultralytics-yolov8n",
    "keras-efficientnetb0",
    "silero-vad-onnx",
    "nudenet-320n",
    "ppocr-cls",
)


def by_name(name: str) -> Entry:
    """The entry called `name` (a KeyError naming the known ones otherwise)."""
    for entry in ZOO:
        if entry.name == name:
            return entry
    raise KeyError(f"no zoo model {name!r}; known: {', '.join(e.name for e in ZOO)}")


def select(patterns: Iterable[str] | None) -> list[Entry]:
    """Entries whose name contains any of `patterns` (or equals 'subset': the SUBSET); all when None."""
    if not patterns:
        return list(ZOO)
    wanted = list(patterns)
    chosen = []
    for entry in ZOO:
        if any(p == entry.name or p in entry.name or (p == "subset" and entry.name in SUBSET) for p in wanted):
            chosen.append(entry)
    return chosen
