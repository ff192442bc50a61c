"""Trouble outside the request's control, told apart from bugs: a full disk, a read-only or
unwritable disk, a database that cannot be reached. Each becomes a ``CrierError`` that says what
happened and what to do (``fault_error``); the API's error handler, the pages' middleware and
``handler500`` answer it (507, or 503 with ``Retry-After``) instead of a bare 500, and
ingestion stops storing at the first one, reporting every file it did not store.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

from crier_site.errors import CrierError, InsufficientStorage, ServiceUnavailable

logger = logging.getLogger(__name__)

DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})
NOT_WRITABLE = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})
DATABASE_RETRY_AFTER_SECONDS = 30
DISK_RETRY_AFTER_SECONDS = 300


def disk_full() -> InsufficientStorage:
    return InsufficientStorage(
        "The server's disk is full: nothing more can be stored until space is freed. Nothing "
        "you sent was lost that is not listed as rejected; send the rest again later. "
        "(Administrators: free space under CRIER_DATA_DIR; /readyz reports it.)",
        retry_after_seconds=DISK_RETRY_AFTER_SECONDS,
    )


def disk_not_writable() -> ServiceUnavailable:
    return ServiceUnavailable(
        "The server's storage is read-only or not writable right now, so nothing can be "
        "stored or removed; try again later. (Administrators: check the data directory's "
        "mount and permissions; /readyz reports it.)",
        retry_after_seconds=DISK_RETRY_AFTER_SECONDS,
    )


def database_unavailable() -> ServiceUnavailable:
    return ServiceUnavailable(
        "The database is unavailable right now; try again in a moment.",
        retry_after_seconds=DATABASE_RETRY_AFTER_SECONDS,
    )


def fault_error(exc: BaseException) -> CrierError | None:
    """The answer to ``exc`` if it is a fault of the environment (disk, database), else None
    (a bug, or an error that callers handle themselves)."""
    if isinstance(exc, OSError) and exc.errno in DISK_FULL:
        return disk_full()
    if isinstance(exc, OSError) and exc.errno in NOT_WRITABLE:
        return disk_not_writable()
    if isinstance(exc, OperationalError | InterfaceError):
        return database_unavailable()
    return None


def fault_response(request: HttpRequest, fault: CrierError) -> HttpResponse:
    """``fault`` answered outside DRF: the error envelope under /api/, else the error page.
    The page is rendered without the request's context, which would read the session and the
    user from the database that may be the very thing that is down."""
    if request.path.startswith("/api/"):
        body = {"error": {"code": fault.code, "message": fault.message, **fault.details}}
        response: HttpResponse = JsonResponse(body, status=fault.status_code)
    else:
        page = render_to_string("error.html", {"error": fault})
        response = HttpResponse(page, status=fault.status_code)
    if "retry_after_seconds" in fault.details:
        response["Retry-After"] = str(fault.details["retry_after_seconds"])
    return response


class FaultMiddleware:
    """A view that raised a fault of the disk or the database answers 507/503 (API envelope or
    page) with ``Retry-After``, instead of the 500 page. DRF views answer theirs in
    ``crier_site.api.envelope``; what escapes every middleware reaches ``handler500``
    (``crier_site.api.envelope.server_error``), which answers faults the same way."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        fault = fault_error(exception)
        if fault is None:
            return None
        logger.error("%s %s: %s: %s", request.method, request.path, fault.code, exception)
        return fault_response(request, fault)
