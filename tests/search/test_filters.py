"""Search filters (search.queries.filters): validation, and each filter's rule on the database
in use (the suite runs on PostgreSQL; run this file with DATABASE_URL unset for SQLite)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.http import QueryDict

from corpora.metadata import tag_text
from corpora.models import ImageRecord
from crier_site.errors import InvalidInput
from search.queries.filters import (
    MAX_FILTER_TAGS,
    MAX_METADATA_FILTERS,
    ImageFilters,
    apply_filters,
    validate_filters,
)
from tests.factories import add_vector_records, make_corpus, store_labels


def query(text: str) -> QueryDict:
    return QueryDict(text)


def invalid_field(data) -> str:
    with pytest.raises(InvalidInput) as caught:
        validate_filters(data)
    return caught.value.details["field"]


# --- validation ----------------------------------------------------------------------------------


def test_nothing_given_is_no_filter():
    assert validate_filters(None).is_empty
    assert validate_filters(query("")).is_empty
    assert validate_filters(query("tags=&label=+&camera=&taken_after=&taken_before=")).is_empty
    assert validate_filters({"tags": [], "label": "", "camera": "  "}).is_empty


def test_tags_repeat_and_keep_commas_case_and_spaces_folded():
    filters = validate_filters(query("tags=Beach&tags=new+york,+NY&tags=beach&tags=+a++b+"))
    assert filters.tags == ("beach", "new york, ny", "a b")
    assert validate_filters({"tags": "Dog"}).tags == ("dog",)


@pytest.mark.parametrize(
    "data",
    [
        {"tags": ["a|b"]},
        {"tags": ["x" * 51]},
        {"tags": [f"t{i}" for i in range(MAX_FILTER_TAGS + 1)]},
        {"tags": [3]},
        {"tags": ["a\x00"]},
    ],
)
def test_bad_tags_are_refused_naming_the_field(data):
    assert invalid_field(data) == "tags"


def test_label_and_camera_are_checked():
    assert validate_filters({"label": " Tabby  Cat "}).label == "tabby cat"
    assert invalid_field({"label": "cat|dog"}) == "label"
    assert invalid_field({"label": "x" * 101}) == "label"
    assert invalid_field(query("label=a&label=b")) == "label"
    assert validate_filters({"camera": " Canon  EOS "}).camera == "Canon EOS"
    assert invalid_field({"camera": "x" * 101}) == "camera"


def test_dates_cover_whole_days_and_times_are_utc_unless_they_say_otherwise():
    filters = validate_filters({"taken_after": "2024-07-01", "taken_before": "2024-07-31"})
    assert filters.taken_after == datetime(2024, 7, 1, tzinfo=UTC)
    assert filters.taken_before == datetime(2024, 7, 31, 23, 59, 59, 999999, tzinfo=UTC)
    moment = validate_filters({"taken_after": "2024-07-14T15:30:00+02:00"}).taken_after
    assert moment == datetime(2024, 7, 14, 13, 30, tzinfo=UTC)
    naive = validate_filters({"taken_before": "2024-07-14 15:30"}).taken_before
    assert naive == datetime(2024, 7, 14, 15, 30, tzinfo=UTC)
    lower = validate_filters({"taken_after": "2024-07-14t15:30:00.1234567z"}).taken_after
    assert lower == datetime(2024, 7, 14, 15, 30, 0, 123456, tzinfo=UTC)


def test_instants_outside_the_calendar_in_utc_become_its_edges():
    filters = validate_filters(
        {"taken_after": "0001-01-01T00:00:00+05:00", "taken_before": "9999-12-31T23:00:00-05:00"}
    )
    assert filters.taken_after == datetime.min.replace(tzinfo=UTC)
    assert filters.taken_before == datetime.max.replace(tzinfo=UTC)


@pytest.mark.parametrize(
    "data, field",
    [
        ({"taken_after": "yesterday"}, "taken_after"),
        ({"taken_after": "2024-02-30"}, "taken_after"),
        ({"taken_before": "2024-13-01T00:00:00"}, "taken_before"),
        ({"taken_before": 20240101}, "taken_before"),
        ({"taken_after": "20240714"}, "taken_after"),
        ({"taken_after": "2024-W28"}, "taken_after"),
    ],
)
def test_bad_dates_are_refused_naming_the_field(data, field):
    assert invalid_field(data) == field


def test_metadata_filters_come_as_prefixed_names_or_key_value_pairs():
    filters = validate_filters(query("metadata.roll=3&metadata=film=Portra+400&metadata=a=b=c"))
    assert set(filters.metadata) == {("roll", "3"), ("film", "Portra 400"), ("a", "b=c")}
    from_json = validate_filters(
        {"metadata.flash": True, "metadata.iso": 400, "metadata": ["lens=50mm"]}
    )
    assert set(from_json.metadata) == {("flash", "true"), ("iso", "400"), ("lens", "50mm")}
    assert validate_filters({"metadata": "k="}).metadata == (("k", ""),)


@pytest.mark.parametrize(
    "data, field",
    [
        ({"metadata": ["no-equals-sign"]}, "metadata"),
        ({"metadata": ["=value"]}, "metadata"),
        ({"metadata": [f"k{'x' * 100}=v"]}, "metadata"),
        ({"metadata": [f"k={'v' * 201}"]}, "metadata"),
        ({"metadata": [f"k{i}=v" for i in range(MAX_METADATA_FILTERS + 1)]}, "metadata"),
        ({"metadata.roll": {"nested": 1}}, "metadata.roll"),
        ({"metadata": [{"roll": 3}]}, "metadata"),
        ({"metadata.roll": "a\x00"}, "metadata.roll"),
        ({"metadata.": "x"}, "metadata."),
    ],
)
def test_bad_metadata_filters_are_refused_naming_the_field(data, field):
    assert invalid_field(data) == field


def test_filters_survive_a_round_trip_through_query_parameters():
    filters = validate_filters(
        query(
            "tags=beach&tags=sun&label=dog&camera=canon&taken_after=2024-07-01"
            "&taken_before=2024-07-31&metadata.roll=3"
        )
    )
    again = QueryDict(mutable=True)
    for name, value in filters.to_params():
        again.appendlist(name, value)
    assert validate_filters(again) == filters
    assert not filters.is_empty and ImageFilters().is_empty


# --- each filter on the database -----------------------------------------------------------------


@pytest.fixture
def records(user):
    corpus = make_corpus(user)
    rows = add_vector_records(corpus, None, n=6)
    facts = [
        {"tags": ["Beach", "Sunset"], "camera_make": "Canon", "camera_model": "Canon EOS 5D"},
        {"tags": ["beach"], "camera_make": "Apple", "camera_model": "iPhone 12"},
        {"tags": ["new york, ny"], "camera_make": "NIKON CORPORATION", "camera_model": "D750"},
        {"labels": [{"label": "tabby cat", "synonyms": ["tabby", "cat"], "probability": 0.6}]},
        {"labels": [{"label": "catamaran", "synonyms": [], "probability": 0.9}]},
        {},
    ]
    taken = [datetime(2024, 7, day, 12, tzinfo=UTC) for day in (1, 14, 31)] + [None] * 3
    metadata = [
        {"roll": 3, "film": "Portra", "flash": True},
        {"roll": "3", "film": "portra", "flash": False},
        {"roll": 3.0, "flash": 1, "a.b": "dot", "é": "accent"},
        {"roll": 30, "x\\y": "slash", "nested": {"roll": 3}},
        {"roll": [3], "film": None},
        {},
    ]
    for row, fact, when, data in zip(rows, facts, taken, metadata, strict=True):
        row.tags = fact.get("tags", [])
        row.tag_text = tag_text(row.tags)
        row.camera_make = fact.get("camera_make", "")
        row.camera_model = fact.get("camera_model", "")
        row.taken_at = when
        row.metadata = data
        row.save()
        if fact.get("labels"):
            store_labels(row, fact["labels"])
    return corpus, rows


def kept(records, **data) -> list[int]:
    corpus, rows = records
    filters = validate_filters(data)
    narrowed = filters.apply(ImageRecord.objects.filter(corpus=corpus))
    found = set(narrowed.values_list("pk", flat=True))
    return [i for i, row in enumerate(rows) if row.pk in found]


@pytest.mark.django_db
def test_tags_match_all_of_them_exactly_and_case_insensitively(records):
    assert kept(records, tags=["BEACH"]) == [0, 1]
    assert kept(records, tags=["beach", "sunset"]) == [0]
    assert kept(records, tags=["bea"]) == []
    assert kept(records, tags=["New York, NY"]) == [2]
    assert kept(records, tags=["%"]) == [] and kept(records, tags=["_each"]) == []


@pytest.mark.django_db
def test_label_matches_a_whole_name_or_synonym(records):
    assert kept(records, label="Cat") == [3]
    assert kept(records, label="tabby cat") == [3]
    assert kept(records, label="cata") == []
    assert kept(records, label="catamaran") == [4]


@pytest.mark.django_db
def test_taken_bounds_include_both_days(records):
    assert kept(records, taken_after="2024-07-14") == [1, 2]
    assert kept(records, taken_before="2024-07-14") == [0, 1]
    assert kept(records, taken_after="2024-07-31", taken_before="2024-07-01") == []
    assert kept(records, taken_after="2024-07-14", taken_before="2024-07-14") == [1]
    assert kept(records, taken_after="2024-07-14T12:00:00+00:00") == [1, 2]
    assert kept(records, taken_after="2024-07-14T12:00:01Z") == [2]
    assert kept(records, taken_before="2024-07-14T13:59:59+02:00") == [0]
    assert kept(records, taken_after="2024-07-14T12:00:00Z", taken_before="2024-07-14T12:00Z") == [
        1
    ]


@pytest.mark.django_db
def test_camera_words_each_appear_in_make_or_model(records):
    assert kept(records, camera="canon") == [0]
    assert kept(records, camera="EOS 5d") == [0]
    assert kept(records, camera="apple iphone") == [1]
    assert kept(records, camera="nikon d750") == [2]
    assert kept(records, camera="canon iphone") == []


@pytest.mark.django_db
def test_metadata_equality_tells_json_types_apart_the_same_on_every_database(records):
    assert kept(records, **{"metadata.roll": "3"}) == [0, 1, 2]  # 3, "3" and 3.0
    assert kept(records, **{"metadata.roll": "3.0"}) == [0, 2]  # numbers only: "3" != "3.0"
    assert kept(records, **{"metadata.roll": "30"}) == [3]
    assert kept(records, **{"metadata.film": "Portra"}) == [0]  # strings: case-sensitive
    assert kept(records, **{"metadata.flash": "true"}) == [0]  # never the number 1
    assert kept(records, **{"metadata.flash": "1"}) == [2]
    assert kept(records, **{"metadata.flash": "false"}) == [1]
    assert kept(records, **{"metadata.a.b": "dot"}) == [2]  # the key is everything after "."
    assert kept(records, **{"metadata.é": "accent"}) == [2]
    assert kept(records, **{"metadata.x\\y": "slash"}) == [3]
    assert kept(records, **{"metadata.film": "null"}) == []  # JSON null never matches
    assert kept(records, **{"metadata.missing": ""}) == []
    assert kept(records, metadata=["roll=3", "film=portra"]) == [1]


@pytest.mark.django_db
def test_filters_combine_and_none_leaves_the_queryset_alone(records):
    corpus, rows = records
    assert kept(records, tags=["beach"], camera="canon", **{"metadata.roll": "3"}) == [0]
    everything = ImageRecord.objects.filter(corpus=corpus)
    assert apply_filters(everything, None) is everything
    assert apply_filters(everything, ImageFilters()).count() == len(rows)
