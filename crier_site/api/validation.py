"""Request checks DRF leaves out: JSON types as the schema states them, blank values, and
unknown or malformed query parameters (each a 400 in the error envelope)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.http import QueryDict
from rest_framework import serializers
from rest_framework.request import Request

from crier_site.errors import UriTooLong

# Far above any query within the declared limits (every string parameter has a maxLength;
# percent-encoded, the longest valid query is under 80 KiB). gunicorn takes request lines of
# any length (crier_site/gunicorn_conf.py), so the app answers longer ones, in the envelope.
MAX_QUERY_STRING_BYTES = 128 * 1024

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
    which no schema can list) and read them from its ``initial_data``. A query string longer
    than MAX_QUERY_STRING_BYTES is a 414."""
    if len(request.META.get("QUERY_STRING", "")) > MAX_QUERY_STRING_BYTES:
        raise UriTooLong(
            f"The query string is longer than {MAX_QUERY_STRING_BYTES // 1024} KiB.",
        )
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
