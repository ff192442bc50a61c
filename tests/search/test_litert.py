"""LiteRT runtime: the converted .tflite gives TensorFlow's embeddings and labels, it is chosen
by CRIER_RUNTIME, and a model that is missing, tampered with or fails its check falls back to
TensorFlow."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command
from PIL import Image, ImageOps

from corpora.examples import sample_photo_path
from search.encoders import get_encoder, prepare_encoder, registry
from search.encoders import litert as litert_module
from search.encoders.litert import (
    MIN_COSINE,
    MODEL_NAME,
    RECORD_NAME,
    LiteRTEncoder,
    read_verification,
)
from search.encoders.tfhub import TFHubEncoder, derive_fingerprint, spec_for_directory
from tests.factories import save_tiny_savedmodel

TEST_PHOTOS = ["chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png", "camera.png"]

pytestmark = pytest.mark.slow  # every test here loads a network (Lite0 or a tiny SavedModel)


def sample_photos() -> list[Image.Image]:
    images = [Image.open(sample_photo_path(name)).convert("RGB") for name in TEST_PHOTOS]
    return images + [ImageOps.mirror(image.crop((20, 10, 300, 250))) for image in images]


@pytest.fixture(scope="module")
def lite0_litert() -> LiteRTEncoder:
    encoder = get_encoder("efficientnet-lite0")  # the default runtime
    assert isinstance(encoder, LiteRTEncoder), "Lite0 must run on LiteRT by default"
    return encoder


@pytest.fixture
def lite0_tensorflow(settings, lite0_litert) -> TFHubEncoder:
    settings.CRIER_RUNTIME = "tensorflow"
    return get_encoder("efficientnet-lite0")


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1)


def test_litert_embeddings_and_labels_equal_tensorflow(lite0_litert, lite0_tensorflow):
    assert isinstance(lite0_tensorflow, TFHubEncoder) and lite0_tensorflow.runtime == "tensorflow"
    assert lite0_litert.fingerprint == lite0_tensorflow.fingerprint  # stored vectors stay valid
    assert lite0_litert.source == lite0_tensorflow.source
    images = sample_photos()
    litert_vectors = lite0_litert.encode(images)
    tf_vectors = lite0_tensorflow.encode(images)
    assert litert_vectors.shape == (len(images), 1280)
    np.testing.assert_allclose(np.linalg.norm(litert_vectors, axis=1), 1.0, atol=1e-5)
    assert cosines(litert_vectors, tf_vectors).min() >= MIN_COSINE
    litert_labels = lite0_litert.classify(images, top=3)
    tf_labels = lite0_tensorflow.classify(images, top=3)
    for ours, theirs in zip(litert_labels, tf_labels, strict=True):
        assert [label for label, _ in ours] == [label for label, _ in theirs]
        np.testing.assert_allclose([p for _, p in ours], [p for _, p in theirs], atol=1e-4)
    record = read_verification(Path(lite0_litert.source))
    assert record.passed and record.min_cosine >= MIN_COSINE and record.photos >= 5
    assert record.fingerprint == derive_fingerprint(lite0_litert.spec) and record.classifier


def fresh_copy(encoder: LiteRTEncoder) -> LiteRTEncoder:
    """Another encoder on the same verified file, with its own (empty) interpreter pool."""
    return LiteRTEncoder(encoder.spec, encoder.model_path, read_verification(Path(encoder.source)))


def test_one_inference_gives_vectors_and_labels(lite0_litert, monkeypatch):
    images = sample_photos()[:4]
    encoder, calls = fresh_copy(lite0_litert), []
    (runner,) = [encoder._idle.get()]  # the one made at load time

    def counting(**inputs):
        calls.append(1)
        return runner(**inputs)

    encoder._idle.put(counting)
    vectors, labels = encoder.encode_and_classify(images, top=5)
    assert len(calls) == len(images)  # one interpreter call per image (batch 1), not two
    np.testing.assert_allclose(vectors, lite0_litert.encode(images), atol=1e-6)
    assert labels == lite0_litert.classify(images, top=5)
    assert labels[1][0][0] == "espresso" and len(labels[0]) == 5
    no_vectors, no_labels = encoder.encode_and_classify([])
    assert no_vectors.shape == (0, 1280) and no_labels == []


def test_batches_of_several_images_match_one_by_one(lite0_litert, settings):
    settings.CRIER_LITERT_BATCH = 3
    spec = lite0_litert.spec
    batched = LiteRTEncoder(spec, lite0_litert.model_path, read_verification(Path(spec.handle)))
    assert batched.inference_slice == 3
    arrays = np.stack([lite0_litert.preprocess(image) for image in sample_photos()[:7]])
    # 7 images in calls of 3: the last call is padded, and the padding never leaks out.
    np.testing.assert_allclose(
        batched.encode_batch(arrays), lite0_litert.encode_batch(arrays), atol=1e-5
    )
    assert batched.encode_batch(arrays[:0]).shape == (0, 1280)


def test_threads_never_share_an_interpreter(lite0_litert):
    encoder = fresh_copy(lite0_litert)
    arrays = np.stack([encoder.preprocess(image) for image in sample_photos()[:2]])
    expected = lite0_litert.encode_batch(arrays)
    busy, made, results, errors = set(), [], [], []
    guard = threading.Lock()

    def exclusive(runner):
        def call(**inputs):
            with guard:
                assert id(runner) not in busy, "one interpreter used by two threads at once"
                busy.add(id(runner))
            try:
                return runner(**inputs)
            finally:
                with guard:
                    busy.discard(id(runner))

        return call

    real_new_runner = encoder._new_runner
    encoder._new_runner = lambda: made.append(1) or exclusive(real_new_runner())
    encoder._idle.get()  # drop the unguarded one made at load time
    start = threading.Barrier(3)

    def work() -> None:
        try:
            start.wait()
            for _ in range(4):
                results.append(encoder.encode_batch(arrays))
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(results) == 12
    assert 1 <= len(made) <= 3  # at most one per concurrent thread, reused afterwards
    for result in results:
        np.testing.assert_allclose(result, expected, atol=1e-6)
    encoder.encode_batch(arrays)  # a later call, on this thread, reuses an idle interpreter
    assert len(made) <= 3


def test_runtime_setting_selects_the_runtime(settings, lite0_litert):
    settings.CRIER_RUNTIME = "tensorflow"
    assert isinstance(get_encoder("efficientnet-lite0"), TFHubEncoder)
    assert isinstance(get_encoder(lite0_litert.source), TFHubEncoder)
    settings.CRIER_RUNTIME = "litert"
    assert get_encoder("efficientnet-lite0") is lite0_litert
    assert isinstance(get_encoder(lite0_litert.source), LiteRTEncoder)
    assert get_encoder("efficientnet-lite0+flip").base is lite0_litert


def test_info_command_names_the_runtime(capsys, lite0_litert):
    call_command("encoder", "info", "efficientnet-lite0")
    out = capsys.readouterr().out
    assert "litert" in out and str(lite0_litert.model_path) in out


# A foreign SavedModel (no manifest, no classifier) goes through the same conversion.


@pytest.fixture
def tiny(tmp_path) -> Path:
    registry.clear_cache()
    yield save_tiny_savedmodel(tmp_path / "tiny")
    registry.clear_cache()


def test_foreign_savedmodel_stays_on_tensorflow_until_prepared(tiny, capsys):
    assert isinstance(get_encoder(str(tiny)), TFHubEncoder)  # loading never writes into it
    assert not (tiny / MODEL_NAME).exists()
    call_command("encoder", "prepare", str(tiny))
    assert "litert" in capsys.readouterr().out
    converted = get_encoder(str(tiny))
    assert isinstance(converted, LiteRTEncoder) and converted.dim == 8
    record = json.loads((tiny / RECORD_NAME).read_text())
    assert record["passed"] and record["min_cosine"] >= MIN_COSINE and not record["classifier"]
    image = Image.open(sample_photo_path("coffee.png")).convert("RGB")
    registry.clear_cache()
    registry_tf = TFHubEncoder(spec_for_directory(tiny))
    assert cosines(converted.encode([image]), registry_tf.encode([image]))[0] >= MIN_COSINE
    assert converted.fingerprint == registry_tf.fingerprint


def test_tampered_tflite_is_not_used(tiny):
    assert isinstance(prepare_encoder(str(tiny)), LiteRTEncoder)
    model = tiny / MODEL_NAME
    model.write_bytes(model.read_bytes()[:-16] + bytes(16))
    registry.clear_cache()
    assert isinstance(get_encoder(str(tiny)), TFHubEncoder)


def test_tflite_that_disagrees_with_tensorflow_is_refused(tiny, tmp_path, monkeypatch):
    # The converter is handed another model (other weights): the check must catch it.
    other = TFHubEncoder(spec_for_directory(save_tiny_savedmodel(tmp_path / "x", 1)))
    real_convert = litert_module._convert
    monkeypatch.setattr(litert_module, "_convert", lambda _: real_convert(other))
    encoder = prepare_encoder(str(tiny))
    assert isinstance(encoder, TFHubEncoder)
    assert not (tiny / MODEL_NAME).exists() and not list(tiny.glob(".*checking"))
    record = read_verification(tiny)
    assert not record.passed and record.min_cosine < MIN_COSINE and "differ" in record.reason


def test_model_that_does_not_convert_keeps_tensorflow(tiny, monkeypatch):
    def failing_converter(_):
        raise RuntimeError("op not supported by TFLite builtins")

    monkeypatch.setattr(litert_module, "_convert", failing_converter)
    assert isinstance(prepare_encoder(str(tiny)), TFHubEncoder)
    record = read_verification(tiny)
    assert not record.passed and "not supported" in record.reason
    vectors = get_encoder(str(tiny)).encode([Image.new("RGB", (10, 10), (0, 0, 255))])
    assert vectors.shape == (1, 8)
