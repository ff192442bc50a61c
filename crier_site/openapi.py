"""How an /api/v1/ operation is declared, so that the OpenAPI schema tells the truth.

Every API view method is decorated with :func:`api_operation`. One declaration then does three
things that could otherwise drift apart:

- documents the operation (request, responses, query parameters, pagination) through
  drf-spectacular's ``extend_schema``;
- validates the query string against the declared query serializer before the method runs:
  an unknown or malformed parameter is a 400 in the error envelope, never silently ignored;
- documents, through :class:`CrierAutoSchema`, every error status the operation can answer,
  each with the one error envelope ``{"error": {"code", "message", ...}}`` (component
  ``ErrorEnvelope``). Statuses that follow from the operation's shape are added by themselves
  (400 always; 401, and 403 for writes, where credentials are read; 404 with path parameters or
  pages; 413 with file uploads; 414 with string query parameters; 429 when the view has
  throttles); others are named with
  ``errors=(409, ...)``.

docs/api.md shows how to declare a new endpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import wraps
from typing import Any

import uritemplate
from django.core.validators import RegexValidator
from django.db.models import QuerySet
from django.http import QueryDict
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response

# Primary keys are 64-bit (BigAutoField): larger numbers can name nothing, and some databases
# refuse them outright, so id fields say so.
MAX_ID = 2**63 - 1

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}

ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "Invalid input: a malformed, missing or unknown field or query parameter "
    "(`fields` names them).",
    401: "No valid credentials: send `Authorization: Token <key>` (or sign in).",
    403: "Not allowed: only the owner changes a corpus (or a signed-in session sent no "
    "CSRF token).",
    404: "Not found, or someone else's private corpus.",
    409: "Conflicts with the current state (see `code` and `message`).",
    413: "The request or one of its files is too large.",
    414: "The request line is longer than the web server takes (gunicorn: 4094 bytes), which "
    "no request within this operation's limits reaches; answered by the server, as HTML.",
    415: "Unsupported request content type.",
    429: "Too many requests: retry after `retry_after_seconds` (also the Retry-After header).",
    503: "Temporarily unavailable: retry later.",
}


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


class PageQuerySerializer(serializers.Serializer):
    page = serializers.IntegerField(
        required=False, min_value=1, default=1, help_text="A page number, from 1."
    )
    page_size = serializers.IntegerField(
        required=False, min_value=1, max_value=500, default=50, help_text="Items per page."
    )


class CrierPagination(PageNumberPagination):
    """Page numbers; the query (page, page_size) is validated by :class:`PageQuerySerializer`
    before the paginator runs. A page past the last is a 404."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class QueryBooleanField(serializers.BooleanField):
    """A boolean query parameter: exactly ``true`` or ``false``, as the schema says."""

    TRUE_VALUES = {"true", True}
    FALSE_VALUES = {"false", False}
    NULL_VALUES = set()

    def to_internal_value(self, data: Any) -> bool:
        if isinstance(data, str) and data in self.TRUE_VALUES | self.FALSE_VALUES:
            return data == "true"
        if isinstance(data, bool):
            return data
        self.fail("invalid", input=data)
        raise AssertionError("unreachable")


@extend_schema_field({"type": "object", "additionalProperties": {}})
class JSONObjectPartField(serializers.Field):
    """A multipart part whose text is a JSON object. Documented as an object, which OpenAPI
    clients send as a JSON part; ``parse`` turns the text into the object or raises."""

    def __init__(self, *, parse: Callable[[Any], dict], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.parse = parse

    def to_internal_value(self, data: Any) -> dict:
        return self.parse(data)

    def to_representation(self, value: Any) -> Any:
        return value


class LabelSerializer(serializers.Serializer):
    """A predicted ImageNet label (docs/metadata.md), shown by both apps' image answers."""

    label = serializers.CharField(help_text="ImageNet class name, e.g. 'tabby cat'.")
    synonyms = serializers.ListField(child=serializers.CharField())
    probability = serializers.FloatField(min_value=0, max_value=1)


@dataclass(frozen=True)
class OperationSpec:
    query: type[serializers.Serializer] | None
    errors: tuple[int, ...]
    paginated: bool


def api_operation(
    *,
    query: type[serializers.Serializer] | None = None,
    errors: Iterable[int] = (),
    paginated: bool = False,
    **schema: Any,
) -> Callable:
    """Declare (and document) one API view method; see the module docstring and docs/api.md.

    ``query``: a serializer for the query string; its validated data is passed to the method as
    the keyword argument ``query`` (with ``paginated``, ``page`` and ``page_size`` are in it).
    ``errors``: error statuses beyond the ones inferred (e.g. ``(409,)``).
    ``paginated``: the 200 response is a page (``{count, next, previous, results}``) of the
    serializer given in ``responses``; answer it with :func:`paginated_response`.
    Anything else (``request``, ``responses``, ``description``, ...) goes to ``extend_schema``.
    """
    spec = OperationSpec(query=query, errors=tuple(errors), paginated=paginated)
    query_serializers = [s for s in (query, PageQuerySerializer if paginated else None) if s]
    json_body = _request_serializer(schema.get("request"), "application/json")
    form_body = _request_serializer(schema.get("request"), "multipart/form-data")

    def decorate(handler: Callable) -> Callable:
        @wraps(handler)
        def wrapper(view, request: Request, *args, **kwargs):
            if json_body is not None and request.content_type.startswith("application/json"):
                check_json_types(json_body(), request.data)
            elif form_body is not None and isinstance(request.data, QueryDict):
                check_blank_values(form_body().fields, request.data)
            params = validated_query(request, query_serializers)
            if query_serializers:
                kwargs["query"] = params
            return handler(view, request, *args, **kwargs)

        wrapper.crier_operation = spec  # type: ignore[attr-defined]
        parameters = [*schema.pop("parameters", []), *query_serializers]
        return extend_schema(parameters=parameters or None, **schema)(wrapper)

    return decorate


def _request_serializer(request: Any, media_type: str) -> type[serializers.Serializer] | None:
    if isinstance(request, dict):
        request = request.get(media_type)
    if isinstance(request, serializers.Serializer):
        request = type(request)
    if isinstance(request, type) and issubclass(request, serializers.Serializer):
        return request
    return None


def check_json_types(serializer: serializers.Serializer, data: Any) -> None:
    """DRF coerces JSON values it should refuse (``"5"`` or ``5.0`` for an integer, ``5`` for a
    string): refuse what the schema's types refuse, as a 400 naming the fields."""
    if not isinstance(data, dict):
        return  # the serializer itself answers "expected a dictionary"
    errors = {}
    for name, field in serializer.fields.items():
        if field.read_only or name not in data:
            continue
        problem = _json_type_problem(field, data[name])
        if problem:
            errors[name] = [problem]
    if errors:
        raise serializers.ValidationError(errors)


def _json_type_problem(field: serializers.Field, value: Any) -> str | None:
    if value is None:
        return None  # allow_null is the serializer's business
    expected: tuple[type, ...] | None = None
    if isinstance(field, serializers.BooleanField):
        expected = (bool,)
    elif isinstance(field, serializers.IntegerField):
        expected = (int,)
    elif isinstance(field, (serializers.FloatField, serializers.DecimalField)):
        expected = (int, float)
    elif isinstance(field, serializers.ChoiceField):
        expected = None  # the choices decide
    elif isinstance(field, serializers.CharField):
        expected = (str,)
    elif isinstance(field, serializers.ListField):
        if not isinstance(value, list):
            return "Expected a list."
        for item in value:
            problem = _json_type_problem(field.child, item)
            if problem:
                return problem
        return None
    elif isinstance(field, serializers.DictField):
        expected = (dict,)
    if expected is None:
        return None
    if isinstance(value, bool) and bool not in expected:
        return f"Expected {_TYPE_NAMES[expected[0]]}, not a boolean."
    if not isinstance(value, expected):
        return f"Expected {_TYPE_NAMES[expected[0]]}."
    return None


_TYPE_NAMES = {bool: "a boolean", int: "an integer", str: "a string", dict: "an object"}


def check_blank_values(fields: dict[str, serializers.Field], data: QueryDict) -> None:
    """In query strings and forms DRF takes an empty value of an optional field for "not sent"
    (``?public=`` would mean the default): refuse it, as the schema does, unless the field is a
    string that may be blank."""
    errors = {}
    for name, values in data.lists():
        field = fields.get(name)
        if field is None or not any(value == "" for value in values):
            continue
        if isinstance(field, serializers.CharField) and field.allow_blank:
            continue
        errors[name] = ["This field may not be blank."]
    if errors:
        raise serializers.ValidationError(errors)


def validated_query(
    request: Request, query_serializers: Iterable[type[serializers.Serializer]]
) -> dict[str, Any]:
    """The query string checked against the declared serializers: unknown names and malformed
    values raise a ValidationError (a 400 in the error envelope). A serializer may let through
    names that start with one of its ``query_param_prefixes`` (``metadata.<key>`` filters,
    which no schema can list) and read them from its ``initial_data``."""
    query_serializers = list(query_serializers)
    known = {name for cls in query_serializers for name in cls().fields}
    prefixes = tuple(
        p for cls in query_serializers for p in getattr(cls, "query_param_prefixes", ())
    )
    unknown = sorted(
        name
        for name in set(request.query_params) - known
        if not (prefixes and name.startswith(prefixes))
    )
    if unknown:
        raise serializers.ValidationError({name: ["Unknown query parameter."] for name in unknown})
    check_blank_values(
        {name: field for cls in query_serializers for name, field in cls().fields.items()},
        request.query_params,
    )
    values: dict[str, Any] = {}
    for cls in query_serializers:
        serializer = cls(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        values.update(serializer.validated_data)
    return values


def paginated_response(
    *,
    request: Request,
    view: Any,
    queryset: QuerySet,
    serializer_class: type[serializers.BaseSerializer],
    context: dict[str, Any] | None = None,
) -> Response:
    """One page of ``queryset`` as ``{count, next, previous, results}``."""
    paginator = CrierPagination()
    page = paginator.paginate_queryset(queryset, request, view=view)
    data = serializer_class(page, many=True, context=context or {"request": request}).data
    return paginator.get_paginated_response(data)


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
            if status == 414:  # the web server's page, before the app runs
                body["content"] = {"text/html": {"schema": {"type": "string"}}}
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
        return schema


def operation_spec_of(view_class: type, method: str) -> OperationSpec | None:
    """The declaration of ``view_class``'s handler for ``method`` (None when undeclared)."""
    return getattr(getattr(view_class, method.lower(), None), "crier_operation", None)


__all__ = [
    "MAX_ID",
    "CrierAutoSchema",
    "CrierPagination",
    "ErrorEnvelopeSerializer",
    "JSONObjectPartField",
    "LabelSerializer",
    "PageQuerySerializer",
    "QueryBooleanField",
    "api_operation",
    "check_blank_values",
    "check_json_types",
    "operation_spec_of",
    "paginated_response",
    "validated_query",
]
