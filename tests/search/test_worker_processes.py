"""The real worker, killed or stopped and restarted: ``manage.py qcluster`` in a subprocess
against the test database, with the production settings (real background tasks, the ORM broker
or Redis).

A corpus encoded with EfficientNet-Lite0 in small batches is interrupted mid-encoding — by
SIGKILL to the whole cluster, or by SIGTERM / SIGINT to its process group as systemd and Ctrl-C
send them — and a new cluster must finish it, storing every image's vector exactly once
(counted by a database trigger, not by our code). After a kill nobody asks (the recovery
schedule finds the corpus); after a stop the old worker must be gone within 15 s, its lease
released and no task left claimed.
"""

from __future__ import annotations

import importlib
import io
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.apps import apps as django_apps
from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_q.models import OrmQ, Schedule
from django_q.signing import SignedPackage

from corpora import services
from corpora.models import Corpus, CorpusStatus, ImageStatus
from tests.factories import image_bytes, index_of, make_corpus
from tests.processes import (
    Service,
    app_env,
    database_url,
    log_tail,
    manage,
    session_pids,
    signal_group,
    signal_session,
    start_service,
    stop_service,
)

pytestmark = [
    pytest.mark.slow,
    # Committed rows, so the subprocesses see them.
    pytest.mark.django_db(transaction=True),
]

IMAGES = 240
BATCH_SIZE = 8
START_TIMEOUT_S = 240  # the first cluster loads TensorFlow and the encoder
# The promise is 2 minutes after a worker is up again; the margin covers a loaded CI host.
RECOVERY_TIMEOUT_S = 150
STOP_TIMEOUT_S = 15
REDIS_QUEUE_KEY = "django_q:crier:q"
ENCODE_TASK = "search.tasks.encode_corpus"
POLL_S = 0.2


@pytest.fixture(autouse=True)
def recovery_schedule(transactional_db: None) -> None:
    """The recovery schedule, as its data migration writes it: an earlier transactional test may
    have flushed it. (Not serialized_rollback: on PostgreSQL a flush leaves the content-type
    sequence ahead, so restoring the serialized rows collides with the re-created ones.)"""
    migration = importlib.import_module("search.migrations.0001_resume_indexing_schedule")
    migration.create_schedule(django_apps, None)


@pytest.fixture
def encode_log() -> Iterator[callable]:
    """A trigger that logs every vector written into an image record, whoever writes it."""
    table, trigger = "crier_test_encode_log", "crier_test_log_encode"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {table} (record_id bigint NOT NULL)")
        if connection.vendor == "postgresql":
            cursor.execute(
                f"CREATE FUNCTION {trigger}() RETURNS trigger AS $$ BEGIN "
                f"INSERT INTO {table} VALUES (NEW.image_id); RETURN NEW; END $$ LANGUAGE plpgsql"
            )
            cursor.execute(
                f"CREATE TRIGGER {trigger} AFTER INSERT OR UPDATE OF vector ON search_imagevector "
                f"FOR EACH ROW WHEN (NEW.vector IS NOT NULL) EXECUTE FUNCTION {trigger}()"
            )
        else:
            for event in ("INSERT", "UPDATE OF vector"):
                cursor.execute(
                    f"CREATE TRIGGER {trigger}_{event[:6].lower()} AFTER {event} "
                    f"ON search_imagevector WHEN NEW.vector IS NOT NULL BEGIN "
                    f"INSERT INTO {table} (record_id) VALUES (NEW.image_id); END"
                )

    def writes_per_record() -> dict[int, int]:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT record_id, COUNT(*) FROM {table} GROUP BY record_id")
            return dict(cursor.fetchall())

    yield writes_per_record
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"DROP TRIGGER {trigger} ON search_imagevector")
            cursor.execute(f"DROP FUNCTION {trigger}()")
        else:
            for event in ("INSERT", "UPDATE OF vector"):
                cursor.execute(f"DROP TRIGGER {trigger}_{event[:6].lower()}")
        cursor.execute(f"DROP TABLE {table}")


@pytest.fixture
def worker_env(isolated_data_dirs: Path) -> dict[str, str]:
    env = app_env(db_url=database_url(connection.settings_dict), data_dir=isolated_data_dirs)
    env.update(CRIER_ENCODE_BATCH_SIZE=str(BATCH_SIZE), CRIER_WORKERS="1")
    env["SECRET_KEY"] = settings.SECRET_KEY  # this process reads the tasks they sign
    connection.close()  # no lock of ours in the way of the subprocesses (SQLite)
    return env


def wait_for(condition, *, timeout: float, what: str, services: list[Service]):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for service in services:
            if service.process.poll() is not None:
                raise AssertionError(
                    f"{service.name} exited with {service.process.returncode} while waiting for "
                    f"{what}.\n{log_tail(service.log_path)}"
                )
        value = condition()
        if value:
            return value
        time.sleep(POLL_S)
    logs = "\n".join(log_tail(service.log_path) for service in services)
    raise AssertionError(f"No {what} within {timeout:.0f} s.\n{logs}")


def encoded(corpus: Corpus) -> int:
    return corpus.images.filter(status=ImageStatus.ENCODED).count()


def add_pending_images(corpus: Corpus) -> None:
    files = [(f"img-{seed}.png", io.BytesIO(image_bytes(seed=seed))) for seed in range(IMAGES)]
    services.ingest_files(corpus=corpus, files=files, enqueue=False)


def request_indexing_from_outside(env: dict[str, str]) -> None:
    """Enqueue the corpus's task through the app's own broker (this process runs tasks inline)."""
    subprocess.run(manage("resume_indexing"), env=env, check=True, timeout=120, capture_output=True)


def assert_each_image_encoded_once(corpus: Corpus, writes: dict[int, int]) -> None:
    corpus.refresh_from_db()
    assert corpus.status == CorpusStatus.READY
    assert index_of(corpus).indexed_count == IMAGES and index_of(corpus).lease_token == ""
    assert encoded(corpus) == IMAGES
    assert sorted(writes) == sorted(corpus.images.values_list("pk", flat=True))
    assert set(writes.values()) == {1}, {pk: n for pk, n in writes.items() if n != 1}


def interrupt_and_restart(
    corpus: Corpus, env: dict[str, str], log_dir: Path, *, interrupt, ready_within: float
) -> None:
    """Start a worker on the corpus, ``interrupt(worker)`` once it stored a few batches, then
    start a new worker and wait until the corpus is ready."""
    started: list[Service] = []
    try:
        started.append(start_service("worker-1", manage("qcluster"), env=env, log_dir=log_dir))
        request_indexing_from_outside(env)
        wait_for(
            lambda: encoded(corpus) >= 2 * BATCH_SIZE,
            timeout=START_TIMEOUT_S,
            what="vectors from the first worker",
            services=started,
        )
        interrupt(started[0])
        assert encoded(corpus) < IMAGES, "encoding finished before the interruption: raise IMAGES"
        started.append(start_service("worker-2", manage("qcluster"), env=env, log_dir=log_dir))
        wait_for(
            lambda: Corpus.objects.filter(pk=corpus.pk, status=CorpusStatus.READY).exists(),
            timeout=ready_within,
            what="ready corpus after the restart",
            services=started[1:],
        )
    finally:
        for service in started:
            stop_service(service)


def test_a_killed_worker_s_corpus_finishes_after_a_restart_with_each_image_encoded_once(
    user, encode_log, worker_env, tmp_path
):
    assert Schedule.objects.filter(func="search.tasks.resume_stalled_indexing").exists()
    corpus = make_corpus(user, encoder="efficientnet-lite0")
    add_pending_images(corpus)

    def crash(worker: Service) -> None:
        signal_session(worker, signal.SIGKILL)  # every process of it, at once
        worker.process.wait(timeout=30)
        wait_for(lambda: not session_pids(worker), timeout=30, what="exit", services=[])
        corpus.refresh_from_db()
        assert index_of(corpus).lease_token, "the dead worker's lease is still on the corpus"

    # Nobody asks again after the restart: the recovery schedule must find the corpus.
    interrupt_and_restart(
        corpus, worker_env, tmp_path, interrupt=crash, ready_within=RECOVERY_TIMEOUT_S
    )
    assert_each_image_encoded_once(corpus, encode_log())


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The Redis database the broker test may use (its queue key is emptied before and after)."""
    import redis

    url = os.environ.get("CRIER_TEST_REDIS_URL", "redis://127.0.0.1:6379/5")
    client = redis.Redis.from_url(url)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.fail(f"The Redis broker test needs Redis at {url} (CRIER_TEST_REDIS_URL).")
    client.delete(REDIS_QUEUE_KEY)
    yield url
    client.delete(REDIS_QUEUE_KEY)
    client.close()


def queued_tasks(broker: str, redis_url: str | None) -> list[str]:
    """The functions of the tasks waiting in the broker, none of them claimed by a worker."""
    if broker == "orm":
        assert not OrmQ.objects.filter(lock__gt=timezone.now()).exists(), "a task is claimed"
        return [SignedPackage.loads(row.payload)["func"] for row in OrmQ.objects.all()]
    import redis

    with redis.Redis.from_url(redis_url) as client:
        payloads = client.lrange(REDIS_QUEUE_KEY, 0, -1)
    return [SignedPackage.loads(payload.decode())["func"] for payload in payloads]


@pytest.mark.parametrize(
    ("broker", "signum"),
    [("orm", signal.SIGTERM), ("redis", signal.SIGTERM), ("orm", signal.SIGINT)],
    ids=["orm-sigterm", "redis-sigterm", "orm-sigint"],
)
def test_a_signal_to_the_worker_s_group_stops_it_in_time_and_the_corpus_finishes_after(
    broker, signum, user, encode_log, worker_env, tmp_path, request
):
    if broker == "redis":
        worker_env["CRIER_REDIS_URL"] = request.getfixturevalue("redis_url")
    corpus = make_corpus(user, encoder="efficientnet-lite0")
    add_pending_images(corpus)
    stopped_after: list[float] = []

    def stop(worker: Service) -> None:
        signalled = time.monotonic()
        signal_group(worker, signum)
        wait_for(lambda: not session_pids(worker), timeout=STOP_TIMEOUT_S, what="stop", services=[])
        stopped_after.append(time.monotonic() - signalled)
        assert worker.process.wait(timeout=5) == 0, log_tail(worker.log_path)
        corpus.refresh_from_db()
        assert index_of(corpus).lease_token == "" and index_of(corpus).lease_until is None
        # The job handed the rest of the corpus to a new task, waiting unclaimed for a worker.
        assert queued_tasks(broker, worker_env.get("CRIER_REDIS_URL")).count(ENCODE_TASK) == 1

    interrupt_and_restart(
        corpus, worker_env, tmp_path, interrupt=stop, ready_within=START_TIMEOUT_S
    )
    assert stopped_after[0] < STOP_TIMEOUT_S
    assert_each_image_encoded_once(corpus, encode_log())
