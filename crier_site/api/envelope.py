"""The API's one error format: ``{"error": {"code": ..., "message": ..., ...details}}``.

Domain errors from services (``crier_site.errors``) and DRF's own errors (validation,
authentication, throttling, 404) all leave through this handler.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig, TooManyFilesSent
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import exception_handler

from crier_site.errors import CrierError
from crier_site.faults import fault_error, fault_response

logger = logging.getLogger(__name__)


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, machine-readable: `invalid`, `not_found`, …")
    message = serializers.CharField(help_text="For people: what went wrong and what to do.")
    fields = serializers.DictField(
        child=serializers.JSONField(),
        required=False,
        help_text="With `invalid`: the messages per field or query parameter.",
    )
    retry_after_seconds = serializers.IntegerField(
        required=False, help_text="With 429: seconds to wait before retrying."
    )


class ErrorEnvelopeSerializer(serializers.Serializer):
    """Every API error. Some codes carry more details next to `code` and `message`."""

    error = ErrorSerializer()


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    fault = fault_error(exc)  # a full or read-only disk, the database gone: 507 / 503
    if fault is not None:
        logger.error("API request failed: %s: %s", fault.code, exc)
        exc = fault
    if isinstance(exc, RecursionError):
        # Only input nests this deep: JSON bodies (the parser recurses per level) and the
        # upload's metadata field.
        return _error(400, "invalid", "The request is nested too deeply to be read.")
    if isinstance(exc, CrierError):
        response = _error(exc.status_code, exc.code, exc.message, **exc.details)
        if "retry_after_seconds" in exc.details:
            response.headers["Retry-After"] = str(exc.details["retry_after_seconds"])
        return response
    if isinstance(exc, RequestDataTooBig):
        return _error(413, "too_large", "The request is too large.")
    if isinstance(exc, TooManyFilesSent):
        # More than the schema's maxItems: invalid input like any other broken limit.
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FILES
        message = f"Too many files in one request: at most {limit}."
        return _error(400, "too_many_files", message)
    if isinstance(exc, Http404):
        return _error(404, "not_found", "Not found.")
    if isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = {
            "error": {
                "code": "invalid",
                "message": _first_message(exc.detail),
                "fields": exc.detail,
            }
        }
    elif isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        response.data = {
            "error": {
                "code": codes if isinstance(codes, str) else "error",
                "message": str(exc.detail),
            }
        }
        if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
            response.data["error"]["retry_after_seconds"] = int(exc.wait)
    return response


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """The site's 404: in the error envelope under /api/ (a path no route matches, such as
    ``/api/v1/corpora/abc/``), the 404 page elsewhere."""
    if request.path.startswith("/api/"):
        body = {"error": {"code": "not_found", "message": "No API endpoint at this address."}}
        return JsonResponse(body, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """The site's 500 (``handler500``; Django calls it while handling the exception): a fault
    of the disk or the database as 507/503 with ``Retry-After``; anything else the error
    envelope under /api/ and the 500 page elsewhere."""
    fault = fault_error(sys.exc_info()[1]) if sys.exc_info()[1] is not None else None
    if fault is not None:
        return fault_response(request, fault)
    if request.path.startswith("/api/"):
        message = "The server ran into an error. It has been logged; please try again later."
        return JsonResponse({"error": {"code": "server_error", "message": message}}, status=500)
    return defaults.server_error(request)


def _error(status_code: int, code: str, message: str, **details: Any) -> Response:
    body = {"error": {"code": code, "message": message, **details}}
    return Response(body, status=status_code)


def _first_message(detail: Any) -> str:
    if isinstance(detail, dict):
        for field, value in detail.items():
            message = _first_message(value)
            return message if field == "non_field_errors" else f"{field}: {message}"
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return str(detail)
