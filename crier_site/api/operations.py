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

from django.http import QueryDict
from drf_spectacular.utils import OpenApiRequest, extend_schema
from rest_framework import serializers
from rest_framework.request import Request

from crier_site.api.pagination import PageQuerySerializer
from crier_site.api.validation import check_blank_values, check_json_types, validated_query


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
    if isinstance(request, OpenApiRequest):  # a serializer with examples or part encodings
        request = request.request
    if isinstance(request, serializers.Serializer):
        request = type(request)
    if isinstance(request, type) and issubclass(request, serializers.Serializer):
        return request
    return None


def operation_spec_of(view_class: type, method: str) -> OperationSpec | None:
    """The declaration of ``view_class``'s handler for ``method`` (None when undeclared)."""
    return getattr(getattr(view_class, method.lower(), None), "crier_operation", None)
