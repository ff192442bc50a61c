"""Trouble outside the request's control, told apart from bugs: a full disk, a read-only or
unwritable disk, a database that cannot be reached. Each becomes a ``CrierError`` that says what
happened and what to do (``fault_error``); the API's error handler, the pages' middleware and
``handler500`` answer it (507, or 503 with ``Retry-After``) instead of a bare 500, and
ingestion stops storing at the first one, reporting every file it did not store.
"""

from __future__ import annotations

import errno

from django.db import InterfaceError, OperationalError

from crier_site.errors import CrierError, InsufficientStorage, ServiceUnavailable

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
