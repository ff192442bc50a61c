"""The soak benchmark's short run (benchmarks/soak.py, docs/benchmarks.md "Soak"): three minutes
of 16 clients mixing uploads (small and 12-MP), searches, more like this, text searches and
deletes against gunicorn + two django-q workers on PostgreSQL with Redis, while a worker is
SIGKILLed every 45 s, a gunicorn worker is killed and the data disk (a loop file of its own) is
filled and freed. PostgreSQL is not restarted here: other users of the server would notice; the
hour run does it with ``--restart-postgres``.

Then nothing may be lost, pending, failed, encoded twice (a database trigger counts the vector
writes) or left as an orphan file (but by the request of the killed gunicorn worker, which the
hourly sweep removes), and no request outside a fault's window may fail.

The soak runs in a PostgreSQL database of its own, next to the test database and dropped after,
so no other live app of the test session (whose worker has another data dir) can pick up its
corpora. It uses the histogram encoder: the point is the faults, not the model.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tests.processes import database_url

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

DURATION_S = 180
REDIS_URL = os.environ.get("CRIER_TEST_REDIS_URL", "redis://127.0.0.1:6379/5")


# Where the soak makes its database when the suite itself runs on SQLite (`make test` on a bare
# checkout): any PostgreSQL server whose role may create databases.
FALLBACK_POSTGRES_URL = os.environ.get(
    "CRIER_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"
)


def _server_connection():
    """A DB-API connection to a PostgreSQL server (autocommit, for CREATE/DROP DATABASE): the
    suite's own when it runs on PostgreSQL, else ``CRIER_TEST_POSTGRES_URL``."""
    import psycopg2

    url = (
        database_url(connection.settings_dict)
        if connection.vendor == "postgresql"
        else FALLBACK_POSTGRES_URL
    )
    try:
        server = psycopg2.connect(url)
    except psycopg2.OperationalError as error:
        pytest.fail(
            f"The soak runs on PostgreSQL, as CI does, and none answered at {url} ({error}). "
            'Set DATABASE_URL or CRIER_TEST_POSTGRES_URL, or deselect it with -m "not e2e".',
            pytrace=False,
        )
    server.autocommit = True
    return server, url


@pytest.fixture
def soak_database() -> str:
    server, url = _server_connection()
    base = connection.settings_dict["NAME"] if connection.vendor == "postgresql" else "crier"
    name = f"{Path(str(base)).stem}_soak"[:63]
    with server.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')
    if connection.vendor == "postgresql":
        yield database_url({**connection.settings_dict, "NAME": name})
    else:
        yield url.rsplit("/", 1)[0] + f"/{name}"
    with server.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    server.close()


def test_three_minutes_of_mixed_load_with_faults_lose_nothing(soak_database, tmp_path: Path):
    out = tmp_path / "soak.json"
    command = [
        sys.executable,
        str(Path(settings.BASE_DIR) / "benchmarks" / "soak.py"),
        "--database-url",
        soak_database,
        "--redis-url",
        REDIS_URL,
        "--duration",
        str(DURATION_S),
        "--clients",
        "16",
        "--encoder",
        "histogram",
        "--seed-images",
        "40",
        "--camera-photos",
        "4",
        "--data-mb",
        "768",
        "--drain-timeout",
        "420",
        "--max-seconds",
        "1200",
        "--json",
        str(out),
    ]
    done = subprocess.run(
        command, cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=1300, check=False
    )
    log = (done.stdout + done.stderr)[-6000:]
    assert out.exists(), log
    result = json.loads(out.read_text())
    faults = {fault["name"] for fault in result["faults"]}
    assert {"worker_killed", "gunicorn_worker_killed", "disk_full"} <= faults, log
    assert "postgres_restarted" not in faults
    assert result["requests"] > 200, log
    assert set(result["by_kind"]) >= {"search_image", "more_like_this", "text_search"}, log
    assert result["accepted_images"] > 80 and result["deleted_images"] > 0, log
    assert result["lost"] == [], log
    assert result["deleted_but_present"] == [], log
    assert result["not_encoded"] == [], log
    assert result["never_written"] == [] and result["written_twice"] == {}, log
    # Only a request killed with its gunicorn worker may leave a file behind (for the sweep).
    assert result["orphan_files_unexplained"] == [], log
    assert result["missing_file_count"] == 0, log
    assert result["unexpected_non_2xx"] == 0, log
    assert all(corpus["status"] == "ready" for corpus in result["corpora"].values()), log
    assert result["ok"] and done.returncode == 0, log
