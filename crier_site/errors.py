"""The few domain exceptions that services raise. One DRF exception handler
(crier_site/api/envelope.py) and the page views turn them into HTTP answers, so every endpoint
answers bad input the same way. Apps subclass these; they never build HTTP responses themselves."""

from __future__ import annotations

from typing import Any


class CrierError(Exception):
    """Base class. ``status_code`` is the HTTP status an endpoint answers with."""

    status_code = 400
    code = "error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidInput(CrierError):
    status_code = 400
    code = "invalid"


class Forbidden(CrierError):
    status_code = 403
    code = "forbidden"


class NotFound(CrierError):
    status_code = 404
    code = "not_found"


class CorpusNotFound(NotFound):
    """A corpus that is not there or not shown to this visitor (the two look the same); the
    pages send a signed-out visitor to sign in, as it may be theirs (crier_site.http)."""


class Conflict(CrierError):
    status_code = 409
    code = "conflict"


class PayloadTooLarge(CrierError):
    status_code = 413
    code = "too_large"


class UriTooLong(CrierError):
    status_code = 414
    code = "uri_too_long"


class TooManyRequests(CrierError):
    status_code = 429
    code = "throttled"


class ServiceUnavailable(CrierError):
    status_code = 503
    code = "unavailable"


class InsufficientStorage(CrierError):
    status_code = 507
    code = "insufficient_storage"
