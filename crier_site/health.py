"""Liveness and readiness probes for load balancers and service managers.

``/healthz`` answers as long as the process serves requests (no database, no disk).
``/readyz`` checks what a request needs: the database, a writable data directory, the default
encoder prepared on disk, and a django-q cluster that reported recently. A cluster's sentinel
saves its stats every half second with a 3-second expiry into the broker (Redis) or, with the
ORM broker, into Django's cache (shared through ``CACHES``), so an empty list means no worker
has been alive for the last few seconds.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

Check = Callable[[], str]
logger = logging.getLogger(__name__)


class CheckFailed(Exception):
    pass


def check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return f"{connection.vendor} reachable"


def check_data_dir() -> str:
    """Both data directories writable, each with at least ``CRIER_MIN_FREE_MB`` free (an empty
    file can still be made on a full disk, so the space is checked too)."""
    minimum = settings.CRIER_MIN_FREE_MB
    free_mb: list[int] = []
    for label, directory in (
        ("media", Path(settings.MEDIA_ROOT)),
        ("index", Path(settings.CRIER_INDEX_DIR)),
    ):
        try:
            directory.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=directory, prefix=".readyz-"):
                pass
            free = shutil.disk_usage(directory).free // 2**20
        except OSError as exc:
            logger.error("readyz: %s is not writable: %s", directory, exc)
            raise CheckFailed(f"the {label} directory is not writable") from exc
        if free < minimum:
            raise CheckFailed(
                f"only {free} MB free for the {label} directory (CRIER_MIN_FREE_MB={minimum}): "
                "free space, or uploads and index builds fail with 507"
            )
        free_mb.append(free)
    return f"media and index directories writable, {min(free_mb)} MB free"


def check_encoder() -> str:
    from search.encoders.registry import is_prepared

    name = settings.CRIER_ENCODER
    if not is_prepared(name):
        raise CheckFailed(
            f"the default encoder {name} is not prepared (run: manage.py encoder prepare)"
        )
    return f"{name} prepared"


def check_worker() -> str:
    if settings.Q_CLUSTER.get("sync"):
        return "tasks run inline (CRIER_TASKS_SYNC)"
    from django_q.conf import Conf
    from django_q.status import Stat

    running = [stat for stat in Stat.get_all() if stat.status != Conf.STOPPED]
    if not running:
        raise CheckFailed("no django-q cluster (manage.py qcluster) reported in the last seconds")
    hosts = sorted({stat.host for stat in running})
    return f"{len(running)} cluster(s) running on {', '.join(hosts)}"


READINESS_CHECKS: dict[str, Check] = {
    "database": check_database,
    "data_dir": check_data_dir,
    "encoder": check_encoder,
    "worker": check_worker,
}


def run_checks(checks: dict[str, Check]) -> dict[str, dict[str, object]]:
    results: dict[str, dict[str, object]] = {}
    for name, check in checks.items():
        try:
            results[name] = {"ok": True, "detail": check()}
        except CheckFailed as exc:
            results[name] = {"ok": False, "detail": str(exc)}
        except Exception as exc:  # a probe reports every failure instead of raising it
            # The exception's text may name hosts or users: logged, not shown to the caller.
            logger.exception("readyz: the %s check failed", name)
            results[name] = {"ok": False, "detail": f"{type(exc).__name__} (see the log)"}
    return results


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    results = run_checks(READINESS_CHECKS)
    failing = [name for name, result in results.items() if not result["ok"]]
    body = {"status": "unavailable" if failing else "ok", "failing": failing, "checks": results}
    return JsonResponse(body, status=503 if failing else 200)
