from __future__ import annotations

import io
from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone
from django_q.models import Task

from corpora import services
from corpora import tasks as corpora_tasks
from corpora.models import CorpusStatus, ImageStatus
from search.encoders import get_encoder
from search.encoding import job
from search.encoding.leases import Lease
from search.indices.build import index_root
from search.models import CorpusIndex, ImageVector
from search.services import search_vectors
from tests.factories import image_bytes, index_of, make_corpus, store_vectors, stored_vector

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("histogram_by_default")]


def add_images(corpus, seeds, **kwargs):
    files = [(f"img-{seed}.png", io.BytesIO(image_bytes(seed=seed))) for seed in seeds]
    return services.ingest_files(corpus=corpus, files=files, enqueue=False, **kwargs).accepted


def test_the_task_runs_through_django_q(user, django_capture_on_commit_callbacks):
    corpus = make_corpus(user)
    with django_capture_on_commit_callbacks(execute=True):
        services.ingest_files(corpus=corpus, files=[("a.png", io.BytesIO(image_bytes(seed=1)))])
    task = Task.objects.get(func="search.tasks.encode_corpus")
    assert task.success and task.args == (corpus.pk,)
    assert "1 encoded" in task.result
    corpus.refresh_from_db()
    assert corpus.status == CorpusStatus.READY and index_of(corpus).version


def test_an_interrupted_run_resumes_and_encodes_every_record_exactly_once(user, counting_encoder):
    corpus = make_corpus(user)
    records = add_images(corpus, range(7))
    counting_encoder.fail_after = 4  # batches of 2: the third batch crashes

    with pytest.raises(RuntimeError, match="simulated crash"):
        job.encode_corpus(corpus_id=corpus.pk)
    corpus.refresh_from_db()
    assert corpus.status == CorpusStatus.FAILED and "simulated crash" in corpus.status_message
    assert corpus.images.filter(status=ImageStatus.ENCODED).count() == 4
    assert index_of(corpus).lease_token == ""  # the crash released the lease

    counting_encoder.fail_after = None
    outcome = job.encode_corpus(corpus_id=corpus.pk)

    assert counting_encoder.rows == len(records)  # 4 before the crash + 3 after, none twice
    assert outcome.encoded == 3
    corpus.refresh_from_db()
    assert corpus.status == CorpusStatus.READY
    assert index_of(corpus).indexed_count == len(records)
    assert corpus.images.filter(status=ImageStatus.ENCODED).count() == len(records)


def test_adding_images_encodes_only_the_new_ones(user, counting_encoder):
    corpus = make_corpus(user)
    add_images(corpus, range(5))
    job.encode_corpus(corpus_id=corpus.pk)
    first_version = index_of(corpus).version
    assert counting_encoder.rows == 5

    (new,) = add_images(corpus, [99])
    job.encode_corpus(corpus_id=corpus.pk)

    assert counting_encoder.rows == 6
    corpus.refresh_from_db()
    assert index_of(corpus).indexed_count == 6 and index_of(corpus).version != first_version
    query = np.frombuffer(stored_vector(new).vector, dtype=np.float32)
    assert search_vectors(corpus=corpus, query=query, k=1).hits[0].record_id == new.pk


def test_removing_images_rebuilds_the_index_without_the_encoder(
    user, counting_encoder, django_capture_on_commit_callbacks
):
    corpus = make_corpus(user)
    records = add_images(corpus, range(4))
    job.encode_corpus(corpus_id=corpus.pk)
    rows_before = counting_encoder.rows

    with django_capture_on_commit_callbacks(execute=True):
        assert services.delete_images(corpus=corpus, image_ids=[records[0].pk, records[1].pk]) == 2

    assert counting_encoder.rows == rows_before
    corpus.refresh_from_db()
    assert corpus.status == CorpusStatus.READY and index_of(corpus).indexed_count == 2
    query = np.zeros(get_encoder("histogram").dim, dtype=np.float32)
    query[0] = 1
    hits = {hit.record_id for hit in search_vectors(corpus=corpus, query=query, k=10).hits}
    assert hits == {records[2].pk, records[3].pk}


def test_removing_every_image_leaves_an_empty_corpus_without_index(
    user, django_capture_on_commit_callbacks
):
    corpus = make_corpus(user)
    records = add_images(corpus, range(2))
    job.encode_corpus(corpus_id=corpus.pk)
    with django_capture_on_commit_callbacks(execute=True):
        services.delete_images(corpus=corpus, image_ids=[r.pk for r in records])
    corpus.refresh_from_db()
    assert corpus.status == CorpusStatus.EMPTY
    assert index_of(corpus).version == "" and index_of(corpus).indexed_count == 0
    assert not any(index_root(corpus.pk).glob("v*"))


def test_a_failed_index_build_keeps_the_previous_version_serving(user, monkeypatch):
    corpus = make_corpus(user)
    (first,) = add_images(corpus, [1])
    job.encode_corpus(corpus_id=corpus.pk)
    corpus.refresh_from_db()
    live = index_of(corpus).version

    import search.indices.scann_index

    def broken_build(*args, **kwargs):
        raise MemoryError("disk on fire")

    monkeypatch.setattr(search.indices.scann_index, "build_searcher", broken_build)
    add_images(corpus, [2])
    with pytest.raises(MemoryError):
        job.encode_corpus(corpus_id=corpus.pk)

    corpus.refresh_from_db()
    assert corpus.status == CorpusStatus.FAILED and "disk on fire" in corpus.status_message
    assert index_of(corpus).version == live and (index_root(corpus.pk) / live).is_dir()
    query = np.frombuffer(stored_vector(first).vector, dtype=np.float32)
    assert search_vectors(corpus=corpus, query=query, k=5).hits[0].record_id == first.pk


def test_an_image_that_cannot_be_decoded_any_more_is_marked_failed(user):
    corpus = make_corpus(user)
    _good, broken = add_images(corpus, [1, 2])
    with open(broken.file.path, "wb") as handle:
        handle.write(b"bit rot")
    outcome = job.encode_corpus(corpus_id=corpus.pk)
    assert (outcome.encoded, outcome.failed) == (1, 1)
    broken.refresh_from_db()
    assert broken.status == ImageStatus.FAILED and "Could not be encoded" in broken.error
    corpus.refresh_from_db()
    assert corpus.status == CorpusStatus.READY and index_of(corpus).indexed_count == 1


def test_a_second_worker_does_not_build_while_the_first_holds_the_lease(user, counting_encoder):
    corpus = make_corpus(user)
    add_images(corpus, range(3))
    lease = Lease.acquire(corpus.pk)
    assert lease is not None

    outcome = job.encode_corpus(corpus_id=corpus.pk)
    assert outcome.busy and counting_encoder.rows == 0

    lease.release()
    assert job.encode_corpus(corpus_id=corpus.pk).encoded == 3


def test_an_expired_lease_of_a_crashed_worker_is_taken_over(user):
    corpus = make_corpus(user)
    add_images(corpus, range(2))
    Lease.acquire(corpus.pk)
    CorpusIndex.objects.filter(pk=index_of(corpus).pk).update(lease_until="2000-01-01T00:00:00Z")
    assert job.encode_corpus(corpus_id=corpus.pk).encoded == 2


def test_a_worker_that_lost_its_lease_stores_nothing_more(user, counting_encoder):
    corpus = make_corpus(user)
    add_images(corpus, range(6))
    real_encode = counting_encoder.encode_batch

    def stalled_then_taken_over(batch):
        if counting_encoder.rows >= 2:  # after the first batch: another worker took the corpus
            CorpusIndex.objects.filter(pk=index_of(corpus).pk).update(lease_token="someone-else")
        return real_encode(batch)

    counting_encoder.encode_batch = stalled_then_taken_over
    outcome = job.encode_corpus(corpus_id=corpus.pk)

    assert outcome.encoded == 2  # the first batch only; the second was encoded but not stored
    assert corpus.images.filter(status=ImageStatus.ENCODED).count() == 2
    corpus.refresh_from_db()
    assert index_of(corpus).lease_token == "someone-else"  # the new holder's lease is untouched
    assert index_of(corpus).version == ""  # and the index is left to it


def test_vectors_go_only_into_records_still_pending(user, counting_encoder):
    corpus = make_corpus(user)
    first, second = add_images(corpus, range(2))
    real_encode = counting_encoder.encode_batch

    elsewhere = np.full(counting_encoder.dim, 0.5, dtype=np.float32).tobytes()

    def another_worker_stored_one_meanwhile(batch):
        if stored_vector(first) is None:
            store_vectors(
                corpus, [first], np.zeros((1, 1)), fingerprint=counting_encoder.fingerprint
            )
            ImageVector.objects.filter(image=first).update(vector=elsewhere)
        return real_encode(batch)

    counting_encoder.encode_batch = another_worker_stored_one_meanwhile
    job.encode_corpus(corpus_id=corpus.pk)
    second.refresh_from_db()
    assert bytes(stored_vector(first).vector) == elsewhere
    assert second.status == ImageStatus.ENCODED and len(bytes(stored_vector(second).vector)) > 9


def test_running_the_task_again_changes_nothing(user, counting_encoder):
    corpus = make_corpus(user)
    add_images(corpus, range(3))
    job.encode_corpus(corpus_id=corpus.pk)
    version = index_of(corpus).version
    outcome = job.encode_corpus(corpus_id=corpus.pk)
    assert outcome.encoded == 0 and counting_encoder.rows == 3
    assert index_of(corpus).version == version


def test_vectors_of_another_encoder_version_are_encoded_again(user, counting_encoder):
    corpus = make_corpus(user)
    add_images(corpus, range(3))
    job.encode_corpus(corpus_id=corpus.pk)
    ImageVector.objects.filter(image=corpus.images.first()).update(fingerprint="old-weights")

    outcome = job.encode_corpus(corpus_id=corpus.pk)

    assert outcome.encoded == 1 and counting_encoder.rows == 4
    corpus.refresh_from_db()
    assert index_of(corpus).indexed_count == 3
    assert set(ImageVector.objects.filter(corpus=corpus).values_list("fingerprint", flat=True)) == {
        counting_encoder.fingerprint
    }


def test_a_task_queued_under_the_old_corpora_path_hands_the_corpus_to_the_search_task(
    user, django_capture_on_commit_callbacks
):
    corpus = make_corpus(user)
    add_images(corpus, [1, 2])
    with django_capture_on_commit_callbacks(execute=True):
        message = corpora_tasks.encode_corpus(corpus.pk)
    assert "search.tasks.encode_corpus" in message
    task = Task.objects.get(func="search.tasks.encode_corpus")
    assert task.success and "2 encoded" in task.result


def test_a_task_hands_the_rest_over_once_half_its_timeout_is_spent(
    user, counting_encoder, settings, django_capture_on_commit_callbacks
):
    corpus = make_corpus(user)
    add_images(corpus, range(5))
    settings.CRIER_TASK_TIMEOUT = 0  # spent after the first batch

    with django_capture_on_commit_callbacks() as enqueued:
        outcome = job.encode_corpus(corpus_id=corpus.pk)

    assert outcome.handed_over and outcome.encoded == 2
    assert "handed to a new task" in outcome.summary
    assert len(enqueued) == 1  # the continuation task
    corpus.refresh_from_db()
    assert index_of(corpus).lease_token == "" and corpus.status == CorpusStatus.INDEXING


def test_a_stopping_worker_starts_no_encoding_and_hands_the_corpus_over(
    user, counting_encoder, monkeypatch, django_capture_on_commit_callbacks
):
    import threading

    from search.encoding import shutdown

    corpus = make_corpus(user)
    add_images(corpus, range(3))
    stop = threading.Event()
    monkeypatch.setattr(shutdown, "_event", stop)
    stop.set()

    with django_capture_on_commit_callbacks() as enqueued:
        outcome = job.encode_corpus(corpus_id=corpus.pk)

    assert outcome.handed_over and counting_encoder.rows == 0 and len(enqueued) == 1
    assert index_of(corpus).lease_token == ""


class FakeClock:
    """Stands in for ``time`` in search.encoding.job: ``sleep`` advances ``monotonic`` at once and
    runs ``on_sleep`` (an upload arriving while the job waits)."""

    def __init__(self, on_sleep=None) -> None:
        self.now, self.sleeps, self.on_sleep = 1000.0, 0, on_sleep

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.sleeps += 1
        if self.on_sleep:
            self.on_sleep(self.sleeps)


@pytest.fixture
def count_builds(monkeypatch):
    builds = []
    update = job.update_index
    monkeypatch.setattr(
        job, "update_index", lambda corpus: builds.append(1) or update(corpus=corpus)
    )
    return builds


def test_images_arriving_while_the_job_runs_are_indexed_in_one_build(
    user, settings, monkeypatch, count_builds
):
    settings.CRIER_INDEX_BUILD_INTERVAL = 2
    # The fake clock moves the job's waits, not the records' real created_at: on a loaded machine
    # adding an image can take longer than the real gap, which would end the wait too early.
    monkeypatch.setattr(job, "UPLOAD_GAP_S", 3600)
    corpus = make_corpus(user)
    add_images(corpus, [1])
    arrivals = {3: [2], 5: [3, 4]}  # more uploads come in while the job waits
    clock = FakeClock(lambda sleeps: add_images(corpus, arrivals.get(sleeps, [])))
    monkeypatch.setattr(job, "time", clock)
    outcome = job.encode_corpus(corpus_id=corpus.pk)
    assert outcome.encoded == 4 and len(count_builds) == 1
    corpus.refresh_from_db()
    assert corpus.status == CorpusStatus.READY and index_of(corpus).indexed_count == 4
    # It waited for the upload to pause, never longer than the build interval.
    assert 5 < clock.sleeps <= 2 / job.UPLOAD_POLL_S + 1


def test_the_job_waits_for_no_upload_that_is_over(user, settings, monkeypatch, count_builds):
    settings.CRIER_INDEX_BUILD_INTERVAL = 2
    corpus = make_corpus(user)
    add_images(corpus, [1, 2])
    past = timezone.now() - timedelta(seconds=2 * job.UPLOAD_GAP_S)
    corpus.images.update(created_at=past)
    clock = FakeClock()
    monkeypatch.setattr(job, "time", clock)
    assert job.encode_corpus(corpus_id=corpus.pk).encoded == 2
    assert clock.sleeps == 0 and len(count_builds) == 1


def test_an_upload_that_goes_on_gets_an_index_every_build_interval(user, settings, monkeypatch):
    settings.CRIER_INDEX_BUILD_INTERVAL = 1
    corpus = make_corpus(user)
    add_images(corpus, [1])
    seeds = iter(range(2, 1000))
    builds: list[int] = []

    def arrive(*args) -> None:
        if len(builds) < 2:  # the upload goes on until the second build has started
            add_images(corpus, [next(seeds)])

    # A new image at every poll and during the first two builds: the job still builds
    # after each second of waiting, then once more for what came meanwhile.
    clock = FakeClock(arrive)
    monkeypatch.setattr(job, "time", clock)
    update = job.update_index

    def build(corpus):
        arrive()
        builds.append(1)
        return update(corpus=corpus)

    monkeypatch.setattr(job, "update_index", build)
    outcome = job.encode_corpus(corpus_id=corpus.pk)
    assert len(builds) == 3
    assert outcome.encoded == corpus.images.count() > 20
    assert clock.sleeps <= 3 * (1 / job.UPLOAD_POLL_S + 1)
