"""The web service as ``make run`` and docs/deployment.md start it: gunicorn with
``crier_site/gunicorn_conf.py`` serves the app and its static files, keeps idle connections
open long enough for clients that poll every couple of seconds, and stops promptly on SIGTERM."""

from __future__ import annotations

import http.client
import time
from pathlib import Path

import pytest

from tests.processes import (
    Service,
    free_port,
    gunicorn,
    log_tail,
    signal_group,
    start_service,
    stop_service,
)

START_TIMEOUT_S = 60
STOP_WITHIN_S = 15


@pytest.fixture
def server(tmp_path: Path, monkeypatch) -> tuple[Service, int]:
    import os

    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("CRIER_", "DJANGO_"))},
        "DJANGO_SETTINGS_MODULE": "crier_site.settings",
        "CRIER_DATA_DIR": str(tmp_path / "data"),
        "DEBUG": "false",
        "CRIER_WEB_WORKERS": "1",
        "CRIER_WEB_THREADS": "2",
    }
    service = start_service("gunicorn", gunicorn(port), env=env, log_dir=tmp_path)
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                break
        except OSError:
            pass
        if service.process.poll() is not None or time.monotonic() > deadline:
            stop_service(service)
            pytest.fail(f"gunicorn did not start.\n{log_tail(service.log_path)}")
        time.sleep(0.3)
    yield service, port
    stop_service(service)


def get(connection: http.client.HTTPConnection, path: str) -> http.client.HTTPResponse:
    connection.request("GET", path)
    response = connection.getresponse()
    response.read()
    return response


def test_gunicorn_serves_pages_static_files_and_keeps_connections(server):
    service, port = server
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    response = get(connection, "/static/css/crier.css")
    assert response.status == 200
    assert response.getheader("Content-Type").startswith("text/css")
    assert get(connection, "/accounts/login/").getheader("Content-Security-Policy")
    # A client polling every 2-3 s reuses its connection: it must still be open (gunicorn's
    # default keep-alive of 2 s closed it under such a client, which then got a reset).
    time.sleep(3.5)
    assert get(connection, "/healthz").status == 200
    connection.close()
    assert "gunicorn" in service.log_path.read_text()


def test_gunicorn_stops_promptly_on_sigterm_to_its_group(server):
    import signal

    service, _ = server
    started = time.monotonic()
    signal_group(service, signal.SIGTERM)
    service.process.wait(timeout=STOP_WITHIN_S)
    assert time.monotonic() - started < STOP_WITHIN_S
