"""A corpus changes encoder without downtime (issue 21 item 5): the owner picks another model
(API PATCH ``encoder`` or the corpus page), every image is encoded with it in the background
while the old index keeps answering, the new index is swapped in once all are encoded, and the
old encoder's vectors are dropped. Searchers run in threads throughout, through the API, as
browsers would: not one answer may be anything but 200."""

from __future__ import annotations

import threading
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.urls import reverse

import search.signals
from corpora import services as corpus_services
from corpora.models import Corpus, CorpusStatus, ImageStatus
from search.encoding import job
from search.models import ImageVector
from search.tasks import ENCODE_TASK
from tests.factories import image_bytes, index_of, make_corpus, make_record

SEARCHERS = 3
IMAGES = 12


@pytest.fixture
def wide_histogram(wide_histogram, monkeypatch):
    """The test encoder ``wide-histogram``, offered to users like any selectable model."""
    monkeypatch.setattr(type(wide_histogram), "selectable", True)
    return wide_histogram


def _encoded_corpus(user) -> tuple[Corpus, list[int]]:
    corpus = make_corpus(user, "switching", encoder="histogram")
    ids = [
        make_record(corpus, data=image_bytes(seed=seed), name=f"{seed}.png").pk
        for seed in range(IMAGES)
    ]
    job.encode_corpus(corpus_id=corpus.pk)
    assert index_of(corpus).encoder == "histogram" and index_of(corpus).indexed_count == IMAGES
    return corpus, ids


def _slow_batches(monkeypatch, encoder, seconds: float = 0.05) -> None:
    """Small, slow batches: the change takes a while, as with a neural model."""
    encode = encoder.encode_and_classify_batch

    def slowly(batch, top=5):
        time.sleep(seconds)
        return encode(batch, top)

    monkeypatch.setattr(encoder, "encode_and_classify_batch", slowly)
    monkeypatch.setattr(encoder, "batch_size", 2)


@pytest.mark.django_db(transaction=True)  # the searcher threads see committed rows only
def test_searches_never_fail_while_the_corpus_changes_encoder(user, wide_histogram, monkeypatch):
    corpus, ids = _encoded_corpus(user)
    old_version = index_of(corpus).version
    _slow_batches(monkeypatch, wide_histogram)
    queued: list[tuple] = []  # the task the change enqueues: this test runs it (below)
    monkeypatch.setattr(search.signals, "async_task", lambda *args, **kw: queued.append(args))
    stop = threading.Event()
    answers: list[list[tuple[int, str]]] = [[] for _ in range(SEARCHERS)]
    errors: list[BaseException] = []
    query = image_bytes(seed=3)

    def search_until_stopped(number: int) -> None:
        client = Client()
        client.force_login(user)
        try:
            while not stop.is_set():
                if number % 2:
                    url = reverse("api:search-similar", args=[corpus.pk])
                    response = client.post(
                        url, {"image_id": ids[number], "k": 5}, content_type="application/json"
                    )
                else:
                    upload = SimpleUploadedFile("q.png", query, content_type="image/png")
                    url = reverse("api:search", args=[corpus.pk])
                    response = client.post(url, {"image": upload, "k": 5})
                version = response.json().get("index_version", "")
                answers[number].append((response.status_code, version))
        except BaseException as exc:  # anything else fails the test too
            errors.append(exc)
        finally:
            connection.close()

    def wait_for_answers(at_least: int) -> None:
        deadline = time.monotonic() + 60
        while min(len(a) for a in answers) < at_least and time.monotonic() < deadline:
            time.sleep(0.02)

    threads = [threading.Thread(target=search_until_stopped, args=(n,)) for n in range(SEARCHERS)]
    for thread in threads:
        thread.start()
    try:
        wait_for_answers(2)
        owner = Client()
        owner.force_login(user)
        changed = owner.patch(
            reverse("api:corpus-detail", args=[corpus.pk]),
            {"encoder": wide_histogram.name},
            content_type="application/json",
        )
        assert changed.status_code == 200, changed.content
        body = changed.json()
        assert body["encoder"] == wide_histogram.name and body["index_encoder"] == "histogram"
        assert body["reencoded_count"] == 0 and body["status"] == CorpusStatus.INDEXING

        assert queued == [(ENCODE_TASK, corpus.pk)]
        started = sum(len(a) for a in answers)
        outcome = job.encode_corpus(corpus_id=corpus.pk)
        during = sum(len(a) for a in answers) - started  # answered while the job ran
        before = [len(a) for a in answers]
        wait_for_answers(max(before) + 2)  # every searcher answered from the new index too
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)

    assert errors == []
    assert outcome.encoded == IMAGES and during > 0
    statuses = [status for answered in answers for status, _ in answered]
    assert statuses and all(status == 200 for status in statuses), sorted(set(statuses))
    versions = {version for answered in answers for _, version in answered}
    new_version = index_of(corpus).version
    assert old_version in versions and new_version in versions and new_version != old_version
    # The swap: the new encoder's index serves, its vectors alone are left, every image is
    # searchable, and the corpus is ready.
    state = index_of(corpus)
    assert state.encoder == wide_histogram.name and state.indexed_count == IMAGES
    stored = ImageVector.objects.filter(corpus=corpus)
    assert set(stored.values_list("encoder", flat=True)) == {wide_histogram.name}
    assert stored.count() == IMAGES
    corpus.refresh_from_db()
    assert corpus.status == CorpusStatus.READY
    assert set(corpus.images.values_list("status", flat=True)) == {ImageStatus.ENCODED}
    detail = Client()
    detail.force_login(user)
    after = detail.get(reverse("api:corpus-detail", args=[corpus.pk])).json()
    assert after["index_encoder"] == wide_histogram.name and after["reencoded_count"] is None


@pytest.mark.django_db
def test_progress_is_counted_and_shown_while_the_new_encoder_works(
    user, client, wide_histogram, monkeypatch
):
    corpus, _ = _encoded_corpus(user)
    monkeypatch.setattr(wide_histogram, "batch_size", 4)
    corpus_services.change_encoder(corpus=corpus, encoder=wide_histogram.name)
    monkeypatch.setattr(job, "_run_once", _stop_after_one_batch(job._run_once))
    job.encode_corpus(corpus_id=corpus.pk)

    client.force_login(user)
    api = client.get(reverse("api:corpus-detail", args=[corpus.pk])).json()
    assert api["index_encoder"] == "histogram" and api["encoder"] == wide_histogram.name
    assert api["reencoded_count"] == 4 and api["image_count"] == IMAGES
    page = client.get(reverse("corpora:detail", args=[corpus.pk])).content.decode()
    assert "<p data-encoder-change>Changing the model to" in page  # shown, not hidden
    assert 'data-field="reencoded_count">4<' in page
    # The old index still answers every search with the old encoder's vectors meanwhile.
    assert index_of(corpus).encoder == "histogram"
    assert set(ImageVector.objects.filter(corpus=corpus).values_list("encoder", flat=True)) == {
        "histogram",
        wide_histogram.name,
    }


def _stop_after_one_batch(run_once):
    """``job._run_once`` with a deadline already passed: it stores one batch and hands over."""

    def once(corpus_id, lease, outcome, deadline):
        return run_once(corpus_id, lease, outcome, time.monotonic() - 1)

    return once


@pytest.mark.django_db
def test_the_owner_changes_the_model_on_the_corpus_page(user, client, wide_histogram):
    corpus, _ = _encoded_corpus(user)
    client.force_login(user)
    edit = {"name": corpus.name, "description": "", "visibility": corpus.visibility}
    response = client.post(
        reverse("corpora:edit", args=[corpus.pk]), {**edit, "encoder": wide_histogram.name}
    )
    assert response.status_code == 302
    corpus.refresh_from_db()
    assert corpus.encoder == wide_histogram.name and corpus.status == CorpusStatus.INDEXING
    refused = client.post(reverse("corpora:edit", args=[corpus.pk]), {**edit, "encoder": "nope"})
    assert refused.status_code == 400
    assert Corpus.objects.get(pk=corpus.pk).encoder == wide_histogram.name


@pytest.mark.django_db
def test_the_change_notice_is_hidden_while_no_change_runs(user, client):
    """The page always holds the progress line (static/js/corpus.js shows and hides it as the
    API's ``reencoded_count`` comes and goes); without a change it is hidden."""
    corpus, _ = _encoded_corpus(user)
    client.force_login(user)
    page = client.get(reverse("corpora:detail", args=[corpus.pk])).content.decode()
    assert "<p data-encoder-change hidden>Changing the model to" in page


@pytest.mark.django_db
def test_more_like_this_read_just_before_the_swap_is_answered_by_the_new_index(
    user, wide_histogram, monkeypatch
):
    """The race the browser scenario met (a 409 among hundreds of 200s): "more like this" read
    the old index as live, then the swap dropped the old encoder's vectors before the image's
    vector was looked up. It is answered from the index swapped in instead."""
    from search import services

    corpus, ids = _encoded_corpus(user)
    old_version = index_of(corpus).version
    corpus_services.change_encoder(corpus=corpus, encoder=wide_histogram.name)
    read = services.require_index

    def read_then_swap(corpus):
        index = read(corpus)  # the old index, as live
        job.encode_corpus(corpus_id=corpus.pk)  # the swap happens meanwhile
        return index

    monkeypatch.setattr(services, "require_index", read_then_swap)
    result = services.search_similar(corpus=corpus, record_id=ids[0], k=3)
    new_version = index_of(corpus).version
    assert new_version != old_version and index_of(corpus).encoder == wide_histogram.name
    assert result.index_version == new_version and len(result.hits) == 3
    assert ids[0] not in [hit.record_id for hit in result.hits]
