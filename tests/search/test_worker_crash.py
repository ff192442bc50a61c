"""The real worker, killed and restarted: ``manage.py qcluster`` in a subprocess against the test
database, with the production settings (real background tasks, the ORM broker).

A corpus encoded with EfficientNet-Lite0 in small batches is interrupted by SIGKILL to the whole
cluster mid-encoding; a new cluster must finish it with nobody asking (the recovery schedule),
storing every image's vector exactly once — counted by a database trigger, not by our code.
"""

from __future__ import annotations

import io
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection
from django_q.models import Schedule

from corpora import services
from corpora.models import Corpus, CorpusStatus, ImageStatus
from tests.factories import image_bytes, make_corpus
from tests.processes import (
    Service,
    app_env,
    database_url,
    group_alive,
    log_tail,
    manage,
    signal_group,
    start_service,
    stop_service,
)

pytestmark = [
    pytest.mark.slow,
    # Committed rows, so the subprocesses see them; serialized_rollback brings back the rows
    # that migrations created (the schedules) if an earlier transactional test flushed them.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

IMAGES = 240
BATCH_SIZE = 8
START_TIMEOUT_S = 240  # the first cluster loads TensorFlow and the encoder
# The promise is 2 minutes after a worker is up again; the margin covers a loaded CI host.
RECOVERY_TIMEOUT_S = 150
POLL_S = 0.2


@pytest.fixture
def encode_log() -> Iterator[callable]:
    """A trigger that logs every vector written into an image record, whoever writes it."""
    table, trigger = "crier_test_encode_log", "crier_test_log_encode"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {table} (record_id bigint NOT NULL)")
        if connection.vendor == "postgresql":
            cursor.execute(
                f"CREATE FUNCTION {trigger}() RETURNS trigger AS $$ BEGIN "
                f"INSERT INTO {table} VALUES (NEW.id); RETURN NEW; END $$ LANGUAGE plpgsql"
            )
            cursor.execute(
                f"CREATE TRIGGER {trigger} AFTER UPDATE OF embedding ON corpora_imagerecord "
                f"FOR EACH ROW WHEN (NEW.embedding IS NOT NULL) EXECUTE FUNCTION {trigger}()"
            )
        else:
            cursor.execute(
                f"CREATE TRIGGER {trigger} AFTER UPDATE OF embedding ON corpora_imagerecord "
                f"WHEN NEW.embedding IS NOT NULL BEGIN "
                f"INSERT INTO {table} (record_id) VALUES (NEW.id); END"
            )

    def writes_per_record() -> dict[int, int]:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT record_id, COUNT(*) FROM {table} GROUP BY record_id")
            return dict(cursor.fetchall())

    yield writes_per_record
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"DROP TRIGGER {trigger} ON corpora_imagerecord")
            cursor.execute(f"DROP FUNCTION {trigger}()")
        else:
            cursor.execute(f"DROP TRIGGER {trigger}")
        cursor.execute(f"DROP TABLE {table}")


@pytest.fixture
def worker_env(isolated_data_dirs: Path) -> dict[str, str]:
    env = app_env(db_url=database_url(connection.settings_dict), data_dir=isolated_data_dirs)
    env.update(CRIER_ENCODE_BATCH_SIZE=str(BATCH_SIZE), CRIER_WORKERS="1")
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


def test_a_killed_worker_s_corpus_finishes_after_a_restart_with_each_image_encoded_once(
    user, encode_log, worker_env, tmp_path
):
    assert Schedule.objects.filter(func="search.tasks.resume_stalled_indexing").exists()
    corpus = make_corpus(user, encoder="efficientnet-lite0")
    files = [(f"img-{seed}.png", io.BytesIO(image_bytes(seed=seed))) for seed in range(IMAGES)]
    services.ingest_files(corpus=corpus, files=files, enqueue=False)
    log_dir = tmp_path / "logs"
    log_dir.mkdir()

    first = start_service("worker-1", manage("qcluster"), env=worker_env, log_dir=log_dir)
    second = None
    try:
        subprocess.run(
            manage("resume_indexing"), env=worker_env, check=True, timeout=120, capture_output=True
        )
        wait_for(
            lambda: encoded(corpus) >= 2 * BATCH_SIZE,
            timeout=START_TIMEOUT_S,
            what="vectors from the first worker",
            services=[first],
        )
        signal_group(first, 9)
        first.process.wait(timeout=30)
        wait_for(lambda: not group_alive(first), timeout=30, what="exit", services=[])
        stored_before = encoded(corpus)
        assert stored_before < IMAGES, "encoding finished before the kill: raise IMAGES"
        corpus.refresh_from_db()
        assert corpus.indexing_lease_token, "the dead worker's lease is still on the corpus"

        second = start_service("worker-2", manage("qcluster"), env=worker_env, log_dir=log_dir)
        wait_for(
            lambda: Corpus.objects.filter(pk=corpus.pk, status=CorpusStatus.READY).exists(),
            timeout=RECOVERY_TIMEOUT_S,
            what="ready corpus after the restart",
            services=[second],
        )
    finally:
        for service in (first, second):
            if service is not None:
                stop_service(service)

    corpus.refresh_from_db()
    assert corpus.indexed_count == IMAGES and corpus.indexing_lease_token == ""
    assert encoded(corpus) == IMAGES
    writes = encode_log()
    assert sorted(writes) == sorted(corpus.images.values_list("pk", flat=True))
    assert set(writes.values()) == {1}, {pk: n for pk, n in writes.items() if n != 1}
