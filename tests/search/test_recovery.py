from __future__ import annotations

import io
import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_q.models import Schedule

from corpora import services
from corpora.models import CorpusStatus, ImageStatus
from search.encoding import leases, recovery
from search.encoding.leases import Lease
from search.models import CorpusIndex
from tests.factories import image_bytes, index_of, make_corpus


def add_pending(corpus, count: int) -> None:
    files = [(f"img-{seed}.png", io.BytesIO(image_bytes(seed=seed))) for seed in range(count)]
    services.ingest_files(corpus=corpus, files=files, enqueue=False)


@pytest.mark.django_db
def test_the_migration_schedules_the_recovery_every_minute():
    schedule = Schedule.objects.get(func="search.tasks.resume_stalled_indexing")
    assert (schedule.schedule_type, schedule.minutes, schedule.repeats) == (Schedule.MINUTES, 1, -1)


@pytest.mark.django_db
def test_stalled_means_indexing_with_no_live_lease(user):
    crashed = make_corpus(user, name="crashed", status=CorpusStatus.INDEXING)
    Lease.acquire(crashed.pk)
    CorpusIndex.objects.filter(pk=crashed.pk).update(
        lease_until=timezone.now() - timedelta(seconds=1)
    )
    task_lost = make_corpus(user, name="lost", status=CorpusStatus.INDEXING)
    working = make_corpus(user, name="working", status=CorpusStatus.INDEXING)
    Lease.acquire(working.pk)
    make_corpus(user, name="ready", status=CorpusStatus.READY)
    make_corpus(user, name="failed", status=CorpusStatus.FAILED)  # a real error: not retried

    assert recovery.stalled_corpus_ids() == [crashed.pk, task_lost.pk]


@pytest.mark.django_db
def test_a_corpus_left_behind_by_a_dead_worker_is_finished(
    user, django_capture_on_commit_callbacks
):
    corpus = make_corpus(user)
    add_pending(corpus, 3)
    Lease.acquire(corpus.pk)  # the dead worker's lease ...
    CorpusIndex.objects.filter(pk=corpus.pk).update(
        lease_until=timezone.now() - leases.LEASE  # ... ran out
    )

    # The test settings run tasks inline: the requested indexing runs here.
    with django_capture_on_commit_callbacks(execute=True):
        call_command("resume_indexing", stdout=io.StringIO())

    corpus.refresh_from_db()
    assert corpus.status == CorpusStatus.READY and index_of(corpus).indexed_count == 3
    assert not corpus.images.filter(status=ImageStatus.PENDING).exists()
    assert index_of(corpus).lease_token == ""
    assert recovery.stalled_corpus_ids() == []


@pytest.mark.django_db
def test_a_live_lease_is_left_alone(user, django_capture_on_commit_callbacks):
    corpus = make_corpus(user)
    add_pending(corpus, 2)
    Lease.acquire(corpus.pk)
    with django_capture_on_commit_callbacks(execute=True):
        assert recovery.resume_stalled_indexing() == []
    assert corpus.images.filter(status=ImageStatus.PENDING).count() == 2


@pytest.mark.django_db
def test_a_lease_taken_over_is_lost_for_its_old_holder(user):
    corpus = make_corpus(user)
    lease = Lease.acquire(corpus.pk)
    assert Lease.acquire(corpus.pk) is None
    CorpusIndex.objects.filter(pk=index_of(corpus).pk).update(lease_until=timezone.now())
    successor = Lease.acquire(corpus.pk)
    assert successor is not None
    assert not lease.renew() and lease.lost.is_set()
    with pytest.raises(leases.LeaseLost):
        lease.check()
    lease.release()  # releasing a lost lease leaves the successor's alone
    assert index_of(corpus).lease_token == successor.token


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_renews_the_lease_while_the_job_runs(user):
    corpus = make_corpus(user)
    lease = Lease.acquire(corpus.pk)
    CorpusIndex.objects.filter(pk=index_of(corpus).pk).update(lease_until=timezone.now())
    with lease.heartbeat(interval=0.05):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            until = index_of(corpus).lease_until
            if until > timezone.now() + leases.LEASE / 2:
                break
            time.sleep(0.05)
    assert until > timezone.now() + leases.LEASE / 2
    assert not lease.lost.is_set()
