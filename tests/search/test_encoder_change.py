"""Changing a corpus's encoder: everything is encoded again, and no query vector of one model is
ever searched against an index of another."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse

from corpora import services as corpus_services
from corpora.models import Corpus, ImageStatus
from search import services
from search.encoders import get_encoder
from search.encoding import job
from search.models import ImageVector
from tests.factories import index_of, make_corpus, photo_bytes

pytestmark = pytest.mark.django_db

PHOTOS = ["chelsea.png", "coffee.png", "rocket.jpg"]


@pytest.fixture
def histogram_corpus(user, django_capture_on_commit_callbacks):
    corpus = make_corpus(user, "photos", encoder="histogram")
    files = [(name, io.BytesIO(photo_bytes(name))) for name in PHOTOS]
    with django_capture_on_commit_callbacks(execute=True):
        report = corpus_services.ingest_files(corpus=corpus, files=files)
    corpus.refresh_from_db()
    return corpus, {record.original_filename: record.pk for record in report.accepted}


@pytest.mark.slow
def test_queries_wait_for_the_re_encoding_then_use_the_new_model(
    histogram_corpus, django_capture_on_commit_callbacks
):
    corpus, ids = histogram_corpus
    old_version = index_of(corpus).version
    with django_capture_on_commit_callbacks(execute=False) as pending_jobs:
        corpus_services.change_encoder(corpus=corpus, encoder="efficientnet-lite0")
    assert pending_jobs  # the re-encoding job waits for the transaction to commit
    corpus.refresh_from_db()
    assert corpus.encoder == "efficientnet-lite0" and index_of(corpus).version == old_version

    # The live index still holds histogram vectors: queries are encoded with the histogram
    # and answered by it until the new index is swapped in.
    before = services.search_image(corpus=corpus, image=io.BytesIO(photo_bytes("coffee.png")))
    assert before.hits[0].record_id == ids["coffee.png"]
    assert services.search_similar(corpus=corpus, record_id=ids["coffee.png"], k=2).hits

    outcome = job.encode_corpus(corpus_id=corpus.pk)
    assert outcome.encoded == len(PHOTOS)
    corpus.refresh_from_db()
    lite0 = get_encoder("efficientnet-lite0")
    vectors = ImageVector.objects.filter(corpus=corpus)
    assert set(vectors.values_list("encoder", "fingerprint")) == {
        ("efficientnet-lite0", lite0.fingerprint)
    }  # the histogram's vectors are gone with the swap
    assert set(corpus.images.values_list("status", flat=True)) == {ImageStatus.ENCODED}
    assert index_of(corpus).version != old_version

    result = services.search_image(
        corpus=corpus, image=io.BytesIO(photo_bytes("coffee.png", size=(300, 200))), k=3
    )
    assert result.hits[0].record_id == ids["coffee.png"] and result.hits[0].score > 0.9


def test_more_like_this_refuses_an_image_already_re_encoded(histogram_corpus):
    corpus, ids = histogram_corpus
    ImageVector.objects.filter(image_id=ids["rocket.jpg"]).update(fingerprint="another-model")
    with pytest.raises(services.IndexNotReady):
        services.search_similar(corpus=corpus, record_id=ids["rocket.jpg"])


@pytest.mark.slow
def test_staff_change_the_encoder_in_the_admin(
    client, django_user_model, histogram_corpus, django_capture_on_commit_callbacks
):
    corpus, _ = histogram_corpus
    staff = django_user_model.objects.create_superuser("root", "root@example.org", "pw-123456789")
    client.force_login(staff)
    url = reverse("admin:corpora_corpus_change", args=[corpus.pk])
    form = {
        "owner": corpus.owner_id,
        "name": corpus.name,
        "description": "",
        "visibility": corpus.visibility,
        "status": corpus.status,
        "expires_at_0": "",
        "expires_at_1": "",
    }

    refused = client.post(url, {**form, "encoder": "no-such-model"})
    assert refused.status_code == 200 and "Unknown encoder" in refused.content.decode()
    assert Corpus.objects.get(pk=corpus.pk).encoder == "histogram"

    with django_capture_on_commit_callbacks(execute=True):
        saved = client.post(url, {**form, "encoder": "efficientnet-lite0"})
    assert saved.status_code == 302
    lite0 = get_encoder("efficientnet-lite0")
    stored = ImageVector.objects.filter(corpus=corpus).values_list("fingerprint", flat=True)
    assert set(stored) == {lite0.fingerprint}
