"""The OpenAPI schema's view of an operation: drf-spectacular's AutoSchema plus the error
responses, pages and string constraints of every operation declared with
:func:`crier_site.api.operations.api_operation`."""

from __future__ import annotations

from typing import Any

import uritemplate
from django.core.validators import RegexValidator
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiRequest
from rest_framework import serializers

from crier_site.api.envelope import ErrorEnvelopeSerializer
from crier_site.api.fields import MAX_ID
from crier_site.api.operations import OperationSpec
from crier_site.api.pagination import CrierPagination

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}

ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "Invalid input: a malformed, missing or unknown field or query parameter "
    "(`fields` names them).",
    401: "No valid credentials: send an API key as `Authorization: Bearer <key>` (or "
    "`Token <key>`), or sign in. A malformed Authorization header, an unknown, revoked or "
    "expired key are 401s too, each saying which.",
    403: "Not allowed: only the owner changes a corpus; a `read` API key cannot write (or a "
    "signed-in session sent no CSRF token).",
    404: "Not found, or someone else's private corpus.",
    409: "Conflicts with the current state (see `code` and `message`).",
    413: "The request or one of its files is too large.",
    414: "The query string is longer than 128 KiB, which no request within this operation's "
    "limits reaches.",
    415: "Unsupported request content type.",
    429: "Too many requests: retry after `retry_after_seconds` (also the Retry-After header).",
    503: "Temporarily unavailable (the database, or a read-only disk): retry after "
    "`retry_after_seconds` (also the Retry-After header).",
    507: "The server's disk is full: nothing was stored; retry after `retry_after_seconds`.",
}


class CrierAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema, plus: the error responses of every operation, pages for
    operations declared ``paginated``, and string constraints DRF enforces but does not
    describe (no NUL characters; non-blank means "not only whitespace")."""

    def _operation_spec(self) -> OperationSpec | None:
        handler = getattr(self.view, self.method.lower(), None)
        return getattr(handler, "crier_operation", None)

    def _get_paginator(self):
        spec = self._operation_spec()
        if spec is not None and spec.paginated and self.method == "GET":
            return CrierPagination()
        return super()._get_paginator()

    def _get_pagination_parameters(self):
        spec = self._operation_spec()
        if spec is not None and spec.paginated:
            return []  # documented with the declared query (PageQuerySerializer)
        return super()._get_pagination_parameters()

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        envelope = self.resolve_serializer(ErrorEnvelopeSerializer, "response").ref
        for status in sorted(self.error_statuses()):
            if str(status) in responses:
                continue
            body: dict[str, Any] = {
                "description": ERROR_DESCRIPTIONS.get(status, "Error."),
                "content": {"application/json": {"schema": envelope}},
            }
            if status == 429:
                body["headers"] = {
                    "Retry-After": {
                        "schema": {"type": "integer"},
                        "description": "Seconds to wait before retrying.",
                    }
                }
            responses[str(status)] = body
        return responses

    def error_statuses(self) -> set[int]:
        spec = self._operation_spec()
        statuses = {400}
        if self.view.authentication_classes:
            statuses.add(401)  # a wrong token is refused even where no sign-in is needed
            if self.method not in SAFE_METHODS:
                statuses.add(403)  # not the owner; a signed-in session without CSRF token
        if uritemplate.variables(self.path) or (spec is not None and spec.paginated):
            statuses.add(404)
        if self._has_file_upload():
            statuses.add(413)
        if self._has_string_query(spec):
            statuses.add(414)
        if self.view.get_throttles():
            statuses.add(429)
        if spec is not None:
            statuses.update(spec.errors)
        return statuses

    @staticmethod
    def _has_string_query(spec: OperationSpec | None) -> bool:
        """Query strings grow with their string parameters: past the server's request-line
        limit (only a request breaking their maxLength gets there) the server answers 414."""
        if spec is None or spec.query is None:
            return False
        return any(isinstance(f, serializers.CharField) for f in spec.query().fields.values())

    def _has_file_upload(self) -> bool:
        if self.method in SAFE_METHODS or self.method == "DELETE":
            return False  # no request body
        request = self.get_request_serializer()
        candidates = request.values() if isinstance(request, dict) else [request]
        for candidate in candidates:
            if isinstance(candidate, OpenApiRequest):
                candidate = candidate.request
            if isinstance(candidate, type):
                candidate = candidate()
            if isinstance(candidate, serializers.Serializer):
                for field in candidate.fields.values():
                    child = getattr(field, "child", field)
                    if isinstance(child, serializers.FileField):
                        return True
        return False

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if (
            direction == "request"
            and isinstance(field, serializers.CharField)
            and isinstance(schema, dict)
            and schema.get("type") == "string"
            and "pattern" not in schema
            and "enum" not in schema
            and not any(isinstance(v, RegexValidator) for v in field.validators)
        ):
            # DRF refuses NUL characters in every CharField and trims whitespace before its
            # blank check: "   " is blank.
            if field.allow_blank:
                schema["pattern"] = r"^[^\x00]*$"
            elif field.trim_whitespace:
                schema["pattern"] = r"^[^\x00]*[^\s\x00][^\x00]*$"
            else:
                schema["pattern"] = r"^[^\x00]+$"
        if direction == "request" and isinstance(schema, dict):
            example = _example_of(field, schema)
            if example is not _NO_EXAMPLE:
                schema["example"] = example
        return schema


_NO_EXAMPLE = object()


def _example_of(field: serializers.Field, schema: dict[str, Any]) -> Any:
    """The value Swagger UI's "Try it out" pre-fills for a request field (and schemathesis's
    examples phase sends): valid, and for an optional field the one that changes nothing, not
    a made-up string. A field's own ``style={"example": ...}`` wins; ids are small integers."""
    if "example" in schema or "default" in schema:
        return _NO_EXAMPLE
    if "example" in field.style:
        return field.style["example"]
    if isinstance(field, serializers.IntegerField) and field.max_value == MAX_ID:
        return 1
    if field.required:
        return _NO_EXAMPLE
    if schema.get("type") == "array":
        return []
    if schema.get("type") == "object":
        return {}
    if isinstance(field, serializers.CharField) and field.allow_blank:
        return ""
    return _NO_EXAMPLE
