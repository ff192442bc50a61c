"""Filters every search accepts (docs/metadata.md, "Filters"): which images may be hits.

:class:`ImageFilters` is the validated value the services take; :func:`validate_filters` makes
one from a query string, a form or a dict (the API serializers and the pages both call it).
``ImageFilters.apply`` narrows an ``ImageRecord`` queryset with the same rules on PostgreSQL and
SQLite:

- ``tags`` — every tag given (all of), exact tag, case-insensitive. Repeat the parameter for
  more tags; a comma is part of a tag (tags may contain commas).
- ``label`` — one predicted label name or synonym ("cat", "tabby cat"), the whole name,
  case-insensitive.
- ``taken_after`` / ``taken_before`` — ISO dates or date-times, both bounds included; a bare
  date covers its whole day (``taken_before=2024-07-31`` keeps the 31st). Times without an
  offset are UTC, as are EXIF times without one. Images without a taken-at time never match.
  A taken_after later than taken_before is refused (on ``taken_before``): it could keep nothing.
- ``camera`` — every word of it appears (case-insensitive, anywhere) in the camera make or
  model: ``canon``, ``EOS 5D`` and ``apple iphone`` all match what they say.
- ``metadata.<key>=<value>`` (or ``metadata=<key>=<value>``, repeatable) — the uploader's
  metadata object has ``key`` (top level) equal to ``value``: a string equal to it exactly
  (case-sensitive), or a number equal to it when it reads as a JSON number (``3`` matches
  ``3``, ``3.0`` and ``"3"``), or a boolean when it is ``true`` / ``false``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from django.db import NotSupportedError
from django.db.models import BooleanField, Expression, F, Q, QuerySet

from corpora.metadata import MAX_TAG_LENGTH, MAX_TAGS
from crier_site.errors import InvalidInput

FILTER_FIELDS = ("tags", "label", "taken_after", "taken_before", "camera", "metadata")
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


@dataclass(frozen=True)
class ImageFilters:
    """Which images may be hits; empty (the default) lets every image through.

    ``tags`` and ``label`` are kept lower-case (they match case-insensitively); ``taken_after``
    and ``taken_before`` are aware datetimes, both included. Build one with
    :func:`validate_filters` unless the values are known to be clean.
    """

    tags: tuple[str, ...] = ()
    label: str | None = None
    taken_after: datetime | None = None
    taken_before: datetime | None = None
    camera: str | None = None
    metadata: tuple[tuple[str, str], ...] = field(default=())

    @property
    def is_empty(self) -> bool:
        return not (
            self.tags
            or self.label
            or self.taken_after
            or self.taken_before
            or self.camera
            or self.metadata
        )

    def apply(self, records: QuerySet) -> QuerySet:
        """``records`` (an ImageRecord queryset) narrowed to the images these filters keep."""
        if self.is_empty:
            return records
        condition = Q()
        for tag in self.tags:
            condition &= Q(tag_text__contains=f"|{tag}|")
        if self.label:
            condition &= Q(label_text__contains=f"|{self.label}|")
        if self.taken_after is not None:
            condition &= Q(taken_at__gte=self.taken_after)
        if self.taken_before is not None:
            condition &= Q(taken_at__lte=self.taken_before)
        for word in (self.camera or "").split():
            condition &= Q(camera_make__icontains=word) | Q(camera_model__icontains=word)
        return records.filter(
            condition, *(MetadataEquals(key, value) for key, value in self.metadata)
        )

    def to_params(self) -> list[tuple[str, str]]:
        """Query-string pairs that :func:`validate_filters` reads back as these filters (for
        links to the next page of a filtered search)."""
        pairs = [("tags", tag) for tag in self.tags]
        if self.label:
            pairs.append(("label", self.label))
        if self.taken_after is not None:
            pairs.append(("taken_after", self.taken_after.isoformat()))
        if self.taken_before is not None:
            pairs.append(("taken_before", self.taken_before.isoformat()))
        if self.camera:
            pairs.append(("camera", self.camera))
        pairs += [("metadata", f"{key}={value}") for key, value in self.metadata]
        return pairs


NO_FILTERS = ImageFilters()


def apply_filters(records: QuerySet, filters: ImageFilters | None) -> QuerySet:
    """``records`` narrowed by ``filters`` (``None``: unchanged)."""
    return records if filters is None else filters.apply(records)


# --- validation ----------------------------------------------------------------------------------


def validate_filters(data: Mapping[str, Any] | None) -> ImageFilters:
    """The filters in ``data``: a QueryDict (query string or form), or a dict whose values are
    strings, lists of strings, or (in JSON) numbers and booleans for ``metadata.<key>``.
    Absent and blank values mean "no filter". Anything else wrong raises ``InvalidInput``
    naming the field."""
    if not data:
        return NO_FILTERS
    taken_after = _moment(_one(data, "taken_after"), "taken_after", end_of_day=False)
    taken_before = _moment(_one(data, "taken_before"), "taken_before", end_of_day=True)
    if taken_after is not None and taken_before is not None and taken_after > taken_before:
        raise InvalidInput(
            "taken_before is earlier than taken_after: no image could be taken in between.",
            field="taken_before",
        )
    return ImageFilters(
        tags=_tags(_many(data, "tags")),
        label=_word(_one(data, "label"), "label", MAX_LABEL_LENGTH),
        taken_after=taken_after,
        taken_before=taken_before,
        camera=_camera(_one(data, "camera")),
        metadata=_metadata(data),
    )


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
