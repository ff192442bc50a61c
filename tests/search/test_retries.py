"""A failed index build is retried (issue #25 item 4): an I/O or database fault with a growing
delay, its reason shown on the API and the page; any other failure, or one that outlasts every
retry, stays "failed" with a retry button for the owner."""

from __future__ import annotations

import errno
import io
from datetime import timedelta

import pytest
from django.db import OperationalError
from django.urls import reverse
from django.utils import timezone
from django_q.models import Schedule
from rest_framework.test import APIClient

import search.indices.scann_index
from corpora import services
from corpora.models import Corpus, CorpusStatus, ImageStatus
from search import tasks
from search.encoding import job, recovery, retries
from search.indices.build import index_root
from tests.api_helpers import error_of
from tests.factories import image_bytes, index_of, make_corpus

pytestmark = pytest.mark.django_db


def add_images(corpus, seeds) -> None:
    files = [(f"img-{seed}.png", io.BytesIO(image_bytes(seed=seed))) for seed in seeds]
    services.ingest_files(corpus=corpus, files=files, enqueue=False)


@pytest.fixture
def build_fails(monkeypatch):
    """``build_fails(exc)``: every index build raises ``exc`` (after writing part of it);
    ``build_fails(None)``: builds work again."""
    build = search.indices.scann_index.save_index

    def arm(exc: BaseException | None) -> None:
        def failing(directory, *args, **kwargs):
            if exc is None:
                return build(directory, *args, **kwargs)
            directory.mkdir(parents=True, exist_ok=True)
            (directory / "partial.npy").write_bytes(b"half")
            raise exc

        monkeypatch.setattr(search.indices.scann_index, "save_index", failing)

    return arm


def retry_schedule(corpus) -> Schedule:
    return Schedule.objects.get(name=retries.retry_name(corpus.pk))


def test_a_full_disk_during_the_build_is_retried_once_space_returns(user, build_fails):
    corpus = make_corpus(user)
    add_images(corpus, range(3))
    build_fails(OSError(errno.ENOSPC, "No space left on device"))

    outcome = job.encode_corpus(corpus_id=corpus.pk)

    assert outcome.retry_in == timedelta(seconds=retries.RETRY_DELAYS[0])
    corpus.refresh_from_db()
    assert corpus.status == CorpusStatus.FAILED
    assert "No space left on device" in corpus.status_message
    assert "retried automatically" in corpus.status_message
    assert index_of(corpus).lease_token == ""
    # The half-written build is gone; the vectors are stored, so the retry only builds.
    assert [p.name for p in index_root(corpus.pk).iterdir()] == []
    assert corpus.images.filter(status=ImageStatus.ENCODED).count() == 3
    scheduled = retry_schedule(corpus)
    assert scheduled.func == retries.RETRY_TASK and scheduled.args == f"({corpus.pk}, 1)"
    assert scheduled.schedule_type == Schedule.ONCE
    assert scheduled.next_run > timezone.now() + timedelta(seconds=50)
    assert recovery.stalled_corpus_ids() == []  # the schedule retries it, not the recovery

    build_fails(None)  # space is back; the scheduler runs the retry
    assert "index v" in tasks.retry_indexing(corpus.pk, 1)

    corpus.refresh_from_db()
    assert corpus.status == CorpusStatus.READY and corpus.status_message == ""
    assert index_of(corpus).indexed_count == 3


def test_retries_back_off_then_give_up_to_the_owner(user, build_fails):
    corpus = make_corpus(user)
    add_images(corpus, [1])
    build_fails(OperationalError("server closed the connection unexpectedly"))

    delays = []
    for attempt in range(len(retries.RETRY_DELAYS)):
        tasks.retry_indexing(corpus.pk, attempt)
        delays.append((retry_schedule(corpus).next_run - timezone.now()).total_seconds())
        assert Schedule.objects.filter(name=retries.retry_name(corpus.pk)).count() == 1
    assert [round(delay) for delay in delays] == list(retries.RETRY_DELAYS)

    with pytest.raises(OperationalError):
        tasks.retry_indexing(corpus.pk, len(retries.RETRY_DELAYS))
    corpus.refresh_from_db()
    assert corpus.status == CorpusStatus.FAILED
    assert f"after {len(retries.RETRY_DELAYS)} automatic retries" in corpus.status_message
    assert "Retry indexing" in corpus.status_message


def test_a_failure_that_is_no_fault_of_the_machine_is_not_retried(user, build_fails):
    corpus = make_corpus(user)
    add_images(corpus, [1])
    build_fails(ValueError("a bug"))
    with pytest.raises(ValueError):
        job.encode_corpus(corpus_id=corpus.pk)
    corpus.refresh_from_db()
    assert corpus.status == CorpusStatus.FAILED and "ValueError: a bug" in corpus.status_message
    assert not Schedule.objects.filter(name=retries.retry_name(corpus.pk)).exists()


@pytest.fixture
def failed_corpus(user, build_fails):
    corpus = make_corpus(user)
    add_images(corpus, [1, 2])
    build_fails(ValueError("a bug"))
    with pytest.raises(ValueError):
        job.encode_corpus(corpus_id=corpus.pk)
    build_fails(None)
    corpus.refresh_from_db()
    return corpus


def test_the_owner_retries_through_the_api_and_sees_the_reason(
    user, other_user, failed_corpus, django_capture_on_commit_callbacks
):
    api = APIClient()
    api.force_authenticate(user)
    detail = api.get(reverse("api:corpus-detail", args=[failed_corpus.pk])).json()
    assert detail["status"] == "failed" and "ValueError: a bug" in detail["status_message"]

    stranger = APIClient()
    stranger.force_authenticate(other_user)
    url = reverse("api:corpus-retry", args=[failed_corpus.pk])
    assert stranger.post(url).status_code == 404
    assert error_of(APIClient().post(url))["code"] == "not_authenticated"

    with django_capture_on_commit_callbacks(execute=True):  # tasks run inline in the tests
        response = api.post(url)
    assert response.status_code == 202
    assert response.json()["status"] == "indexing"
    failed_corpus.refresh_from_db()
    assert failed_corpus.status == CorpusStatus.READY and index_of(failed_corpus).indexed_count == 2


def test_the_owner_retries_from_the_corpus_page(
    client, user, other_user, failed_corpus, django_capture_on_commit_callbacks
):
    client.force_login(user)
    page = client.get(reverse("corpora:detail", args=[failed_corpus.pk])).content.decode()
    assert "ValueError: a bug" in page and "Retry indexing" in page
    url = reverse("corpora:retry", args=[failed_corpus.pk])

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url)
    assert response.status_code == 302
    failed_corpus.refresh_from_db()
    assert failed_corpus.status == CorpusStatus.READY
    page = client.get(reverse("corpora:detail", args=[failed_corpus.pk])).content.decode()
    assert "Retry indexing" not in page

    client.force_login(other_user)
    assert client.post(url).status_code in (403, 404)


def test_an_owner_retry_tries_images_that_failed_again(user, failed_corpus):
    failed_corpus.images.update(status=ImageStatus.FAILED, error="Could not be encoded: EIO")
    corpus = services.retry_indexing(corpus=failed_corpus)
    assert corpus.status == CorpusStatus.INDEXING and index_of(corpus).stale
    assert not corpus.images.exclude(status=ImageStatus.PENDING).exists()
    assert Corpus.objects.get(pk=corpus.pk).status_message == ""
