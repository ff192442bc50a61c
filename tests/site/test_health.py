"""/healthz answers while the process lives; /readyz names whichever check fails, with 503."""

from __future__ import annotations

import os

import pytest
from django.db import OperationalError
from django.urls import reverse
from django_q.brokers import get_broker
from django_q.conf import Conf
from django_q.signing import SignedPackage
from django_q.status import Stat, Status


@pytest.fixture
def with_worker_required(settings):
    """The test settings run tasks inline; readiness then needs no worker. Production does."""
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": False}


@pytest.fixture(autouse=True)
def encoder_needing_no_files(settings):
    """The default encoder's prepared files are checked in the encoder tests below."""
    settings.CRIER_ENCODER = "histogram"


def report_cluster(status: str = Conf.IDLE, ttl: int = 3) -> None:
    """What a running qcluster's sentinel saves every half second."""
    stat = Status(pid=os.getpid(), cluster_id="test-cluster")
    stat.status = status
    get_broker().set_stat(Stat.get_key("test-cluster"), SignedPackage.dumps(stat, True), ttl)


def readyz(client):
    response = client.get(reverse("readyz"))
    return response.status_code, response.json()


def test_healthz_needs_no_database(client):
    # No django_db mark: any database query here would raise.
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_ready_when_every_check_passes(client, with_worker_required):
    report_cluster()
    status, body = readyz(client)
    assert status == 200, body
    assert body["status"] == "ok" and body["failing"] == []
    assert set(body["checks"]) == {"database", "data_dir", "encoder", "worker"}
    assert "1 cluster(s) running" in body["checks"]["worker"]["detail"]


@pytest.mark.django_db
def test_not_ready_without_a_worker(client, with_worker_required):
    status, body = readyz(client)
    assert status == 503
    assert body["status"] == "unavailable" and body["failing"] == ["worker"]
    assert "qcluster" in body["checks"]["worker"]["detail"]
    report_cluster(status=Conf.STOPPED)  # a cluster that is shutting down does not count
    assert readyz(client)[1]["failing"] == ["worker"]


@pytest.mark.django_db
def test_inline_tasks_need_no_worker(client):
    status, body = readyz(client)
    assert status == 200, body
    assert "inline" in body["checks"]["worker"]["detail"]


@pytest.mark.django_db
def test_not_ready_when_the_encoder_is_not_prepared(client, settings, tmp_path):
    settings.CRIER_ENCODER = "efficientnet-lite0"
    settings.CRIER_MODEL_DIR = tmp_path / "no-models-here"
    status, body = readyz(client)
    assert status == 503 and body["failing"] == ["encoder"]
    assert "encoder prepare" in body["checks"]["encoder"]["detail"]


@pytest.mark.django_db
def test_not_ready_when_the_data_dir_is_not_writable(client, settings, tmp_path):
    settings.CRIER_INDEX_DIR = tmp_path / "a-file-not-a-directory"
    settings.CRIER_INDEX_DIR.write_text("in the way")
    status, body = readyz(client)
    assert status == 503 and body["failing"] == ["data_dir"]
    assert body["checks"]["data_dir"]["detail"] == "the index directory is not writable"


@pytest.mark.django_db
def test_not_ready_when_the_database_fails_without_showing_its_message(client, monkeypatch):
    from django.db import connection

    def refuse(*args, **kwargs):
        raise OperationalError('connection to server at "db.internal" failed: user "crier"')

    monkeypatch.setattr(connection, "cursor", refuse)
    status, body = readyz(client)
    assert status == 503 and body["failing"] == ["database"]
    assert body["checks"]["database"]["detail"] == "OperationalError (see the log)"
    assert "db.internal" not in str(body)


@pytest.mark.slow
@pytest.mark.django_db
def test_ready_with_the_prepared_lite_encoder(client, settings):
    from search.encoders.registry import prepare_encoder

    settings.CRIER_ENCODER = "efficientnet-lite0"
    prepare_encoder("efficientnet-lite0")  # cached in the shared CRIER_MODEL_DIR
    status, body = readyz(client)
    assert status == 200, body
    assert body["checks"]["encoder"]["detail"] == "efficientnet-lite0 prepared"


@pytest.mark.django_db
def test_not_ready_when_the_disk_is_nearly_full(client, settings, monkeypatch):
    """An empty probe file fits on a full disk: the free space is what tells (issue #25)."""
    import shutil

    settings.CRIER_MIN_FREE_MB = 500
    usage = shutil.disk_usage

    def nearly_full(path):
        total, used, _ = usage(path)
        return type(usage(path))(total, used, 499 * 2**20)

    monkeypatch.setattr(shutil, "disk_usage", nearly_full)
    status, body = readyz(client)
    assert status == 503 and body["failing"] == ["data_dir"]
    detail = body["checks"]["data_dir"]["detail"]
    assert "only 499 MB free" in detail and "CRIER_MIN_FREE_MB=500" in detail

    settings.CRIER_MIN_FREE_MB = 400
    status, body = readyz(client)
    assert body["checks"]["data_dir"] == {
        "ok": True,
        "detail": "media and index directories writable, 499 MB free",
    }
