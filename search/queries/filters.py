"""Filters every search accepts (docs/metadata.md, "Filters"): which images may be hits.

Each filter is declared once, as a :class:`FilterSpec` in ``FILTERS`` (the end of this module):
how its value is read and checked, which images it keeps, its API field (and so the OpenAPI
schema), its field on the pages' filter form, and its row of the docs table. Everything else
follows from the declarations: :func:`validate_filters` (the API serializers and the pages both
call it) makes an :class:`ImageFilters`, whose ``apply`` narrows an ``ImageRecord`` queryset
with the same rules on PostgreSQL and SQLite, and whose ``is_empty`` and ``to_params`` cover
every declared filter. ``tests/search/test_filter_declarations.py`` fails when a declared
filter is missing from the API, the form, the schema or the docs table.
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from django import forms
from django.db import NotSupportedError
from django.db.models import BooleanField, Expression, F, Q, QuerySet
from django.http import QueryDict
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from corpora.metadata import MAX_TAG_LENGTH, MAX_TAGS, split_tags
from crier_site.errors import InvalidInput
from search.models import ImageVector, VectorKind, VectorStatus

METADATA_PREFIX = "metadata."
# An image holds at most MAX_TAGS tags, so more could never all match.
MAX_FILTER_TAGS = MAX_TAGS
MAX_LABEL_LENGTH = 100
MAX_CAMERA_LENGTH = 100
MAX_METADATA_FILTERS = 10
MAX_METADATA_KEY_LENGTH = 100
MAX_METADATA_VALUE_LENGTH = 200
# ``key=value``: the key is what comes before the first "=" (keys cannot hold "=").
METADATA_PAIR = re.compile(
    rf"^[^=\x00]{{1,{MAX_METADATA_KEY_LENGTH}}}=[^\x00]{{0,{MAX_METADATA_VALUE_LENGTH}}}$"
)
JSON_NUMBER = re.compile(r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$")
DATE_ONLY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
# ISO 8601's extended form only (no 20240714 or week dates); RFC 3339 is a part of it.
ISO_MOMENT = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.,][0-9]+)?)?"
    r"([Zz]|[+-][0-9]{2}:?[0-9]{2})?$"
)

Condition = Q | Expression


@dataclass(frozen=True)
class FilterSpec:
    """One search filter, declared once. Its ``name`` is the query-string, form and JSON field.

    ``parse(data)`` reads the filter from a request's data (a QueryDict or a dict whose values
    are strings, lists, or what the API field validated) and answers its clean value, ``empty``
    when absent or blank; anything wrong raises ``InvalidInput`` naming the field.
    ``where(value)`` answers the conditions on an ``ImageRecord`` queryset that keep the images
    the value allows. ``api_field`` and ``form_field`` are prototypes (copied for each
    serializer and form): the API's field, which the OpenAPI schema documents, and the pages'.
    ``matches`` and ``example`` (and ``doc_name``, default the name) are its row of the docs
    table (``markdown_table``).
    """

    name: str
    parse: Callable[[Mapping[str, Any]], Any]
    where: Callable[[Any], Sequence[Condition]]
    api_field: serializers.Field
    form_field: forms.Field
    matches: str
    example: str
    doc_name: str = ""
    empty: Any = None
    # The pages' text for a link's query string (default: the value as given).
    form_text: Callable[[QueryDict], str] | None = None
    # The form's cleaned value as ``parse`` reads it (default: as it is).
    from_form: Callable[[Any], Any] | None = None
    # Query-string pairs that ``parse`` reads back as ``value`` (default: one per item).
    to_params: Callable[[Any], list[tuple[str, str]]] | None = None
    # Run once every filter is parsed, with their values: refuses combinations.
    check: Callable[[Mapping[str, Any]], None] | None = None
    # The same, on the pages only: combinations that match nothing, which the API answers with
    # no results (every schema-valid request is answerable) but a person should be told of.
    form_check: Callable[[Mapping[str, Any]], None] | None = None

    def is_empty(self, value: Any) -> bool:
        return value is None or value == self.empty

    def params(self, value: Any) -> list[tuple[str, str]]:
        if self.to_params is not None:
            return self.to_params(value)
        items = value if isinstance(value, tuple) else (value,)
        return [(self.name, _param_text(item)) for item in items]

    def text_of(self, data: QueryDict) -> str:
        if self.form_text is not None:
            return self.form_text(data)
        return data.get(self.name, "")

    def from_form_value(self, value: Any) -> Any:
        return self.from_form(value) if self.from_form is not None else value

    def new_api_field(self) -> serializers.Field:
        return copy.deepcopy(self.api_field)

    def new_form_field(self) -> forms.Field:
        return copy.deepcopy(self.form_field)


def _param_text(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def filter_specs() -> dict[str, FilterSpec]:
    """Every declared filter by name, in ``FILTERS`` order."""
    return {spec.name: spec for spec in FILTERS}


class ImageFilters:
    """Which images may be hits: one value per declared filter; empty (the default) lets every
    image through. A filter's value reads as an attribute (``filters.tags``, ``filters.label``).

    ``tags`` and ``label`` are kept lower-case (they match case-insensitively); ``taken_after``
    and ``taken_before`` are aware datetimes, both included. Build one with
    :func:`validate_filters` unless the values are known to be clean.
    """

    __slots__ = ("_values",)

    def __init__(self, **values: Any) -> None:
        specs = filter_specs()
        unknown = set(values) - set(specs)
        if unknown:
            raise TypeError(f"No such filter: {', '.join(sorted(unknown))}")
        clean = {name: values.get(name, spec.empty) for name, spec in specs.items()}
        object.__setattr__(self, "_values", clean)

    def __getattr__(self, name: str) -> Any:
        values = object.__getattribute__(self, "_values")
        if name in values:
            return values[name]
        spec = filter_specs().get(name)  # declared after these filters were made
        if spec is None:
            raise AttributeError(name)
        return spec.empty

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("ImageFilters is immutable")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ImageFilters) and self._values == other._values

    def __hash__(self) -> int:
        return hash(tuple(self._values.items()))

    def __repr__(self) -> str:
        given = ", ".join(f"{name}={value!r}" for name, value in self._given())
        return f"ImageFilters({given})"

    def _given(self) -> list[tuple[str, Any]]:
        specs = filter_specs()
        return [
            (name, value)
            for name, value in self._values.items()
            if name in specs and not specs[name].is_empty(value)
        ]

    @property
    def is_empty(self) -> bool:
        return not self._given()

    def apply(self, records: QuerySet) -> QuerySet:
        """``records`` (an ImageRecord queryset) narrowed to the images these filters keep."""
        given = self._given()
        if not given:
            return records
        specs = filter_specs()
        conditions = [c for name, value in given for c in specs[name].where(value)]
        return records.filter(*conditions)

    def to_params(self) -> list[tuple[str, str]]:
        """Query-string pairs that :func:`validate_filters` reads back as these filters (for
        links to the next page of a filtered search)."""
        specs = filter_specs()
        return [pair for name, value in self._given() for pair in specs[name].params(value)]


def apply_filters(records: QuerySet, filters: ImageFilters | None) -> QuerySet:
    """``records`` narrowed by ``filters`` (``None``: unchanged)."""
    return records if filters is None else filters.apply(records)


def validate_filters(data: Mapping[str, Any] | None) -> ImageFilters:
    """The filters in ``data``: a QueryDict (query string or form), or a dict whose values are
    strings, lists of strings, or (in JSON) numbers and booleans for ``metadata.<key>``.
    Absent and blank values mean "no filter". Anything else wrong raises ``InvalidInput``
    naming the field."""
    if not data:
        return NO_FILTERS
    specs = filter_specs()
    values = {name: spec.parse(data) for name, spec in specs.items()}
    for spec in specs.values():
        if spec.check is not None:
            spec.check(values)
    return ImageFilters(**values)


def markdown_table() -> str:
    """The filters table of docs/metadata.md, from the declarations."""
    rows = ["| filter | matches | example |", "|---|---|---|"]
    for spec in FILTERS:
        rows.append(f"| {spec.doc_name or f'`{spec.name}`'} | {spec.matches} | {spec.example} |")
    return "\n".join(rows) + "\n"


# --- reading and checking values ------------------------------------------------------------------


def _many(data: Mapping[str, Any], name: str) -> list[Any]:
    getlist = getattr(data, "getlist", None)
    if getlist is not None:
        return list(getlist(name))
    value = data.get(name)
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _one(data: Mapping[str, Any], name: str) -> Any:
    values = _many(data, name)
    if len(values) > 1:
        raise InvalidInput(f"Give {name} once.", field=name)
    return values[0] if values else None


def _text(raw: Any, name: str) -> str:
    if not isinstance(raw, str):
        raise InvalidInput(f"{name} must be a string.", field=name)
    if "\x00" in raw:
        raise InvalidInput(f"{name} cannot contain the NUL character.", field=name)
    return " ".join(raw.split())


def _labelled(label: str):
    """The ids of the images one of whose whole-image vectors has ``label`` among its predicted
    labels (while a corpus changes encoder, of either encoder)."""
    vectors = ImageVector.objects.filter(
        kind=VectorKind.IMAGE, status=VectorStatus.ENCODED, label_text__contains=f"|{label}|"
    )
    return vectors.values("image_id")


def _word(raw: Any, name: str, limit: int) -> str | None:
    """One lower-case name matched against a ``|a|b|`` column (a tag, a label)."""
    if raw is None:
        return None
    text = _text(raw, name)
    if not text:
        return None
    if len(text) > limit or "|" in text:
        raise InvalidInput(f"{name} is at most {limit} characters, without '|'.", field=name)
    return text.lower()


def _tags(values: list[Any]) -> tuple[str, ...]:
    tags: list[str] = []
    for raw in values:
        tag = _word(raw, "tags", MAX_TAG_LENGTH)
        if tag and tag not in tags:
            tags.append(tag)
    if len(tags) > MAX_FILTER_TAGS:
        raise InvalidInput(
            f"At most {MAX_FILTER_TAGS} tags (an image has at most {MAX_TAGS}).", field="tags"
        )
    return tuple(tags)


def _camera(raw: Any) -> str | None:
    if raw is None:
        return None
    text = _text(raw, "camera")
    if len(text) > MAX_CAMERA_LENGTH:
        raise InvalidInput(f"camera is at most {MAX_CAMERA_LENGTH} characters.", field="camera")
    return text or None


def _moment(raw: Any, name: str, *, end_of_day: bool) -> datetime | None:
    """An ISO date (its first or last instant) or date-time; UTC when it names no offset."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    problem = f"{name} must be an ISO date (2024-07-14) or date-time (2024-07-14T15:30:00+02:00)."
    if not isinstance(raw, str):
        raise InvalidInput(problem, field=name)
    text = raw.strip()
    try:
        if DATE_ONLY.match(text):
            day = date.fromisoformat(text)
            moment = datetime.combine(day, time.max if end_of_day else time.min)
        elif ISO_MOMENT.match(text):
            moment = datetime.fromisoformat(text.upper().replace(",", "."))  # RFC 3339: t, z
        else:
            raise ValueError(text)
    except ValueError:
        raise InvalidInput(problem, field=name) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return _to_utc(moment)


def _to_utc(moment: datetime) -> datetime:
    """In UTC; an instant before year 1 or after 9999 in UTC (an offset pushed it out) becomes
    the first or last instant, which keeps or drops exactly the same images."""
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        edge = datetime.min if moment.year == 1 else datetime.max
        return edge.replace(tzinfo=UTC)


def _metadata(data: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    pairs: list[tuple[str, str]] = []
    for raw in _many(data, "metadata"):
        if not isinstance(raw, str) or not METADATA_PAIR.match(raw):
            raise InvalidInput(
                f"Each metadata filter is key=value (a key of 1 to {MAX_METADATA_KEY_LENGTH} "
                f"characters without '=', a value of at most {MAX_METADATA_VALUE_LENGTH}).",
                field="metadata",
            )
        key, _, value = raw.partition("=")
        pairs.append((key, value))
    for name, values in metadata_fields(data).items():
        key = name[len(METADATA_PREFIX) :]
        pairs += [(key, _metadata_value(value, key)) for value in values]
    for key, value in pairs:
        _check_metadata_pair(key, value)
    if len(pairs) > MAX_METADATA_FILTERS:
        raise InvalidInput(f"At most {MAX_METADATA_FILTERS} metadata filters.", field="metadata")
    return tuple(dict.fromkeys(pairs))


def metadata_fields(data: Mapping[str, Any]) -> dict[str, list[Any]]:
    """The ``metadata.<key>`` fields of ``data`` (a QueryDict or a dict), each with its values."""
    return {
        name: _many(data, name)
        for name in data
        if isinstance(name, str) and name.startswith(METADATA_PREFIX)
    }


def _metadata_value(value: Any, key: Any) -> str:
    """A JSON scalar as the text a query string would carry (``true``, ``3``, ``x``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)) and math.isfinite(value):
        return json.dumps(value)
    if isinstance(value, str):
        return value
    raise InvalidInput(
        f"The metadata filter on {str(key)[:60]!r} must be a string, number or boolean.",
        field=f"{METADATA_PREFIX}{key}",
    )


def _check_metadata_pair(key: str, value: str) -> None:
    name = f"{METADATA_PREFIX}{key}"
    if not key or len(key) > MAX_METADATA_KEY_LENGTH or "=" in key or "\x00" in key:
        raise InvalidInput(
            f"A metadata key is 1 to {MAX_METADATA_KEY_LENGTH} characters, without '='.",
            field=name[:120],
        )
    if len(value) > MAX_METADATA_VALUE_LENGTH or "\x00" in value:
        raise InvalidInput(
            f"A metadata filter value is at most {MAX_METADATA_VALUE_LENGTH} characters (no NUL).",
            field=name[:120],
        )


# --- metadata equality on both databases ---------------------------------------------------------


def as_number(value: str) -> int | float | None:
    """``value`` as the JSON number it spells (finite), else None."""
    if not JSON_NUMBER.match(value):
        return None
    if re.fullmatch(r"-?[0-9]+", value):
        number = int(value)
        # SQLite binds 64-bit integers only; beyond that compare as a float.
        return number if abs(number) < 2**63 else float(number)
    number = float(value)
    return number if math.isfinite(number) else None


class MetadataEquals(Expression):
    """``ImageRecord.metadata[key]`` equals ``value`` (see the module docstring): a boolean
    expression for ``QuerySet.filter``. JSON types are told apart on both databases, so ``true``
    never matches the number 1 and ``"3"`` matches the number 3 and the string "3" alike."""

    output_field = BooleanField()

    def __init__(self, key: str, value: str) -> None:
        super().__init__(output_field=BooleanField())
        self.key, self.value = key, value
        self.column: Any = F("metadata")

    def get_source_expressions(self) -> list[Any]:
        return [self.column]

    def set_source_expressions(self, exprs: list[Any]) -> None:
        (self.column,) = exprs

    def resolve_expression(self, query=None, allow_joins=True, reuse=None, summarize=False,
                           for_save=False):  # fmt: skip
        clone = self.copy()
        clone.column = self.column.resolve_expression(
            query, allow_joins, reuse, summarize, for_save
        )
        return clone

    def as_sql(self, compiler, connection):
        raise NotSupportedError(f"metadata filters are not written for {connection.vendor}")

    def _candidates(self) -> list[str]:
        """The JSON values that count as equal, as JSON text."""
        candidates = [json.dumps(self.value)]
        if as_number(self.value) is not None:
            candidates.append(self.value)
        if self.value in ("true", "false"):
            candidates.append(self.value)
        return candidates

    def as_postgresql(self, compiler, connection):
        column, params = compiler.compile(self.column)
        candidates = self._candidates()
        # jsonb equality compares types and numbers by value (3 = 3.0, true <> 1).
        placeholders = ", ".join(["%s::jsonb"] * len(candidates))
        return f"(({column} -> %s::text) IN ({placeholders}))", [*params, self.key, *candidates]

    def as_sqlite(self, compiler, connection):
        column, params = compiler.compile(self.column)
        # Labels are compared with the stored (escaped, ASCII) JSON text, as Django writes it.
        path = f"$.{json.dumps(self.key)}"
        json_type = f"JSON_TYPE({column}, %s)"
        extract = f"JSON_EXTRACT({column}, %s)"
        parts = [f"({json_type} = 'text' AND {extract} = %s)"]
        args: list[Any] = [*params, path, *params, path, self.value]
        number = as_number(self.value)
        if number is not None:
            parts.append(f"({json_type} IN ('integer', 'real') AND {extract} = %s)")
            args += [*params, path, *params, path, number]
        if self.value in ("true", "false"):
            parts.append(f"({json_type} = %s)")
            args += [*params, path, self.value]
        return f"({' OR '.join(parts)})", args


# --- the filters ---------------------------------------------------------------------------------


@extend_schema_field(
    {
        "anyOf": [
            {"type": "string", "format": "date"},
            {"type": "string", "format": "date-time"},
            {"type": "string", "maxLength": 0},
        ],
        "example": "",
    }
)
class IsoMomentField(serializers.CharField):
    """An ISO date or date-time (checked by ``validate_filters``); blank: no bound, as in a
    form left empty (what Swagger UI pre-fills)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(required=False, allow_blank=True, max_length=64, **kwargs)


class DateInput(forms.DateInput):
    input_type = "date"


def _bounds_in_order(values: Mapping[str, Any]) -> None:
    after, before = values.get("taken_after"), values.get("taken_before")
    if after is not None and before is not None and after > before:
        raise InvalidInput(
            "taken_before is earlier than taken_after: no image could be taken in between.",
            field="taken_before",
        )


def _metadata_text(data: QueryDict) -> str:
    """Every metadata filter of a query string (``metadata`` and ``metadata.<key>``) as the
    form's lines."""
    pairs = [pair for pair in data.getlist("metadata") if pair]
    for name, values in metadata_fields(data).items():
        pairs += [f"{name[len(METADATA_PREFIX) :]}={value}" for value in values]
    return "\n".join(pairs)


FILTERS: tuple[FilterSpec, ...] = (
    FilterSpec(
        name="tags",
        parse=lambda data: _tags(_many(data, "tags")),
        where=lambda tags: [Q(tag_text__contains=f"|{tag}|") for tag in tags],
        empty=(),
        api_field=serializers.ListField(
            child=serializers.RegexField(
                r"^[^|\x00]+$",
                max_length=MAX_TAG_LENGTH,
                trim_whitespace=False,
                help_text="A tag.",
            ),
            required=False,
            max_length=MAX_FILTER_TAGS,
            help_text="Only images with every one of these tags (the whole tag, any case). "
            "Repeat the field for more tags; a comma is part of a tag.",
        ),
        form_field=forms.CharField(
            required=False,
            help_text="Images with all of these tags; separate several with commas.",
        ),
        form_text=lambda data: ", ".join(tag for tag in data.getlist("tags") if tag),
        from_form=split_tags,
        doc_name=f"`tags` (repeat it, at most {MAX_FILTER_TAGS})",
        matches="every tag given, the whole tag, case-insensitive; a comma is part of a tag",
        example="`tags=beach&tags=sunset`",
    ),
    FilterSpec(
        name="label",
        parse=lambda data: _word(_one(data, "label"), "label", MAX_LABEL_LENGTH),
        where=lambda label: [Q(pk__in=_labelled(label))],
        api_field=serializers.RegexField(
            r"^[^|\x00]*$",
            required=False,
            allow_blank=True,
            max_length=MAX_LABEL_LENGTH,
            trim_whitespace=False,
            help_text="Only images with this predicted label name or synonym (e.g. 'cat', "
            "'tabby cat'; the whole name, any case).",
        ),
        form_field=forms.CharField(
            required=False,
            label="Predicted label",
            help_text="A thing the model recognised, e.g. “cat” or “tabby cat”.",
        ),
        matches="one predicted label name or synonym, the whole name, case-insensitive",
        example="`label=cat`, `label=tabby cat`",
    ),
    FilterSpec(
        name="taken_after",
        parse=lambda data: _moment(_one(data, "taken_after"), "taken_after", end_of_day=False),
        where=lambda moment: [Q(taken_at__gte=moment)],
        api_field=IsoMomentField(
            help_text="Only images taken at or after this (EXIF time): an ISO date (from the "
            "start of that day) or date-time; UTC when no offset is given."
        ),
        form_field=forms.CharField(required=False, label="Taken on or after", widget=DateInput),
        matches="EXIF time at or after it; a bare date from the start of its day; a time "
        "without offset is UTC; images without a time never match",
        example="`taken_after=2024-07-01`, `taken_after=2024-07-14T15:30:00+02:00`",
    ),
    FilterSpec(
        name="taken_before",
        parse=lambda data: _moment(_one(data, "taken_before"), "taken_before", end_of_day=True),
        where=lambda moment: [Q(taken_at__lte=moment)],
        form_check=_bounds_in_order,
        api_field=IsoMomentField(
            help_text="Only images taken at or before this: an ISO date (to the end of that "
            "day) or date-time; UTC when no offset is given."
        ),
        form_field=forms.CharField(required=False, label="Taken on or before", widget=DateInput),
        matches="EXIF time at or before it; a bare date to the end of its day; earlier than "
        "`taken_after` (crossed bounds) matches nothing in the API and is a form error on the "
        "pages",
        example="`taken_before=2024-07-31`",
    ),
    FilterSpec(
        name="camera",
        parse=lambda data: _camera(_one(data, "camera")),
        where=lambda camera: [
            Q(camera_make__icontains=word) | Q(camera_model__icontains=word)
            for word in camera.split()
        ],
        api_field=serializers.CharField(
            required=False,
            allow_blank=True,
            max_length=MAX_CAMERA_LENGTH,
            trim_whitespace=False,
            help_text="Only images whose camera make or model holds every word of this (any "
            "case): 'canon', 'apple iphone'.",
        ),
        form_field=forms.CharField(
            required=False, help_text="Words of the camera's make or model, e.g. “canon”."
        ),
        matches="every word appears (case-insensitive, anywhere) in the camera make or model",
        example="`camera=canon`, `camera=apple iphone`",
    ),
    FilterSpec(
        name="metadata",
        parse=_metadata,
        where=lambda pairs: [MetadataEquals(key, value) for key, value in pairs],
        empty=(),
        api_field=serializers.ListField(
            child=serializers.RegexField(
                METADATA_PAIR.pattern,
                max_length=MAX_METADATA_KEY_LENGTH + 1 + MAX_METADATA_VALUE_LENGTH,
                trim_whitespace=False,
                help_text="key=value",
            ),
            required=False,
            max_length=MAX_METADATA_FILTERS,
            help_text="Only images whose uploader metadata has key equal to value, given as "
            "key=value (repeatable): a string equal to it exactly, a number equal to it, or a "
            "boolean for true/false (docs/metadata.md). The same filter may be sent as a field "
            "named metadata.<key> with the value.",
        ),
        form_field=forms.CharField(
            required=False,
            label="Other details",
            widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false"}),
            help_text="key=value, one per line: images whose details hold that key with that "
            "value.",
        ),
        form_text=_metadata_text,
        from_form=lambda text: [line for line in text.splitlines() if line.strip()],
        to_params=lambda pairs: [("metadata", f"{key}={value}") for key, value in pairs],
        doc_name="`metadata.<key>=<value>` or `metadata=<key>=<value>` (repeatable, at most "
        f"{MAX_METADATA_FILTERS})",
        matches="the uploader's `metadata` has top-level `key` equal to `value` (below)",
        example="`metadata.roll=3`, `metadata=film=Portra 400`",
    ),
)

NO_FILTERS = ImageFilters()
