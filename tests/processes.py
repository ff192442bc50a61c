"""Running the real app's processes (server, django-q worker) from tests, against the pytest-django
test database: the e2e tests and the worker's crash and stop tests share these helpers.

The processes run with the production settings module ``crier_site.settings`` (real background
tasks, not the test settings' inline ones), a temporary data directory and the shared
prepared-model directory, each in its own process group so that signals reach all its children.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote, urlencode

from django.conf import settings

STOP_GRACE_S = 15


def database_url(db: dict[str, Any]) -> str:
    """A ``DATABASE_URL`` for the subprocesses that points at the pytest-django test database."""
    engine = db["ENGINE"]
    if engine == "django.db.backends.sqlite3":
        name = str(db["NAME"])
        if name == ":memory:" or name.startswith("file:"):
            raise RuntimeError(
                "The e2e tests need the SQLite test database in a file; set "
                'DATABASES["default"]["TEST"]["NAME"] in crier_site/settings_test.py.'
            )
        return "sqlite:///" + str(Path(name).resolve())
    if engine == "django.db.backends.postgresql":
        user = quote(db.get("USER") or "", safe="")
        password = quote(db.get("PASSWORD") or "", safe="")
        auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
        host = db.get("HOST") or "localhost"
        port = f":{db['PORT']}" if db.get("PORT") else ""
        options = {k: v for k, v in (db.get("OPTIONS") or {}).items() if isinstance(v, str)}
        query = f"?{urlencode(options)}" if options else ""
        return f"postgres://{auth}{host}{port}/{quote(db['NAME'], safe='')}{query}"
    raise RuntimeError(f"The e2e tests do not know how to share a {engine} database")


def app_env(*, db_url: str, data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("CRIER_REDIS_URL", "CRIER_TASKS_SYNC", "CRIER_INDEX_DIR", "SECRET_KEY"):
        env.pop(name, None)
    env.update(
        DJANGO_SETTINGS_MODULE="crier_site.settings",
        DATABASE_URL=db_url,
        CRIER_DATA_DIR=str(data_dir),
        CRIER_MODEL_DIR=str(settings.CRIER_MODEL_DIR),
        DEBUG="false",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        CRIER_ANON_SEARCH_RATE="1000/minute",
        CRIER_SIGNUP_RATE="1000/h",  # every scenario signs up its people from 127.0.0.1
        # The API fuzzer's wrong passwords come from 127.0.0.1 too (the per-username limit,
        # which the sign-in scenario checks, stays as it is).
        CRIER_SIGNIN_FAILURES_PER_ADDRESS="1000/15m",
        # One process (one TensorFlow) is enough for one browser; threads serve its parallel
        # requests.
        CRIER_WEB_WORKERS="1",
        CRIER_WEB_THREADS="4",
        PYTHONUNBUFFERED="1",
    )
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def log_tail(path: Path, lines: int = 60) -> str:
    if not path.exists():
        return f"(no log at {path})"
    text = path.read_text(errors="replace").splitlines()[-lines:]
    return f"--- last {len(text)} lines of {path} ---\n" + "\n".join(text)


def manage(*args: str) -> list[str]:
    return [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), *args]


def gunicorn(port: int) -> list[str]:
    """The web service exactly as ``make run`` and docs/deployment.md start it."""
    executable = Path(sys.executable).parent / "gunicorn"
    config = Path(settings.BASE_DIR) / "crier_site" / "gunicorn_conf.py"
    return [
        str(executable),
        "-c",
        str(config),
        "--bind",
        f"127.0.0.1:{port}",
        "crier_site.wsgi",
    ]


@dataclass
class Service:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]


def start_service(name: str, command: list[str], *, env: dict[str, str], log_dir: Path) -> Service:
    log_path = log_dir / f"{name}.log"
    log_file = log_path.open("wb")
    process = subprocess.Popen(
        command,
        cwd=settings.BASE_DIR,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: stopping it stops its children too
    )
    return Service(name, process, log_path, log_file)


def stop_service(service: Service) -> None:
    """SIGTERM the process group, SIGKILL whatever is left of the session after a grace period."""
    signal_group(service, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        service.process.wait(timeout=STOP_GRACE_S)
    # Also sweeps processes that outlived their parent or moved to a group of their own (the
    # qcluster command runs the django-q cluster in its own group, in the same session).
    signal_session(service, signal.SIGKILL)
    service.process.wait(timeout=STOP_GRACE_S)
    service.log_file.close()


def signal_group(service: Service, signum: int) -> None:
    """Send ``signum`` to every process of the service's group, as Ctrl-C or ``kill -- -PGID``."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(service.process.pid, signum)


def session_pids(service: Service) -> list[int]:
    """Every live process the service started, in any process group (its session: the service
    was started with ``start_new_session``); zombies do not count."""
    service.process.poll()  # reap the leader if it exited
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        state, session = fields[0], int(fields[3])
        if session == service.process.pid and state not in {"Z", "X"}:
            pids.append(int(entry.name))
    return pids


def signal_session(service: Service, signum: int) -> None:
    """Send ``signum`` to every process of the service, its children first (as a kill of a
    systemd unit's whole control group would, with no process left to react to another's end)."""
    for pid in sorted(session_pids(service), key=lambda pid: pid == service.process.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)
