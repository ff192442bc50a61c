"""Filters through the API: search by file (multipart), more like this (JSON), the schema, and
the query-string allowance for ``metadata.<key>`` (crier_site.api.validation.validated_query)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from drf_spectacular.generators import SchemaGenerator
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory

from corpora.metadata import tag_text
from corpora.models import ImageRecord
from crier_site.api.validation import validated_query
from search.queries.filters import MAX_FILTER_TAGS
from search.serializers import SearchFiltersSerializer
from tests.api_helpers import as_file, error_of
from tests.factories import image_bytes, ingested_corpus

pytestmark = pytest.mark.django_db

RED = (220, 20, 20)


@pytest.fixture
def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def shades(user, django_capture_on_commit_callbacks):
    """Four colours; the two reds tagged "warm", the dark one with metadata roll 3."""
    files = {
        "red.png": image_bytes(color=RED),
        "dark-red.png": image_bytes(color=(120, 10, 10)),
        "green.png": image_bytes(color=(20, 200, 30)),
        "blue.png": image_bytes(color=(20, 30, 220)),
    }
    corpus, ids = ingested_corpus(user, "shades", files, django_capture_on_commit_callbacks)
    for name in ("red.png", "dark-red.png"):
        ImageRecord.objects.filter(pk=ids[name]).update(tags=["Warm"], tag_text=tag_text(["Warm"]))
    ImageRecord.objects.filter(pk=ids["dark-red.png"]).update(metadata={"roll": 3})
    return corpus, ids


def names(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [hit["filename"] for hit in response.json()["results"]]


def search(api, corpus, **fields):
    url = reverse("api:search", args=[corpus.pk])
    return api.post(url, {"image": as_file(image_bytes(color=RED)), "k": 4, **fields})


def similar(api, corpus, body):
    url = reverse("api:search-similar", args=[corpus.pk])
    return api.post(url, body, format="json")


def test_search_by_file_takes_every_filter(api, shades):
    corpus, _ = shades
    assert names(search(api, corpus))[:2] == ["red.png", "dark-red.png"]
    assert names(search(api, corpus, tags=["warm"])) == ["red.png", "dark-red.png"]
    assert names(search(api, corpus, tags=["warm", "cold"])) == []
    assert names(search(api, corpus, **{"metadata.roll": "3"})) == ["dark-red.png"]
    assert names(search(api, corpus, metadata=["roll=3"])) == ["dark-red.png"]
    assert names(search(api, corpus, label="cat")) == []  # the histogram encoder labels nothing
    assert names(search(api, corpus, taken_after="2024-01-01")) == []  # PNGs carry no EXIF time
    assert len(names(search(api, corpus, camera="", label=""))) == 4  # blank: no filter


def test_more_like_this_takes_filters_in_json(api, shades):
    corpus, ids = shades
    body = {"image_id": ids["red.png"], "k": 4}
    assert names(similar(api, corpus, {**body, "tags": ["WARM"]})) == ["dark-red.png"]
    assert names(similar(api, corpus, {**body, "metadata.roll": 3})) == ["dark-red.png"]
    assert names(similar(api, corpus, {**body, "metadata": ["roll=4"]})) == []
    assert names(similar(api, corpus, {**body, "taken_before": "2024-07-14T15:30:00Z"})) == []


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"taken_after": "last summer"}, "taken_after"),
        ({"taken_before": "2024-02-30"}, "taken_before"),
        ({"metadata": ["roll"]}, "metadata"),
        ({"tags": ["a|b"]}, "tags"),
        ({"tags": [f"t{i}" for i in range(MAX_FILTER_TAGS + 1)]}, "tags"),
        ({"metadata.": "3"}, "metadata."),
    ],
)
def test_bad_filters_are_a_400_naming_the_field(api, shades, fields, field):
    corpus, ids = shades
    for response in (
        search(api, corpus, **fields),
        similar(api, corpus, {"image_id": ids["red.png"], **fields}),
    ):
        assert response.status_code == 400, response.content
        error = error_of(response)
        assert field in error.get("fields", {}) or error.get("field") == field, error


def test_crossed_date_bounds_find_nothing_rather_than_fail(api, shades):
    """A schema cannot say "after before before": the API answers, with no results (the pages
    refuse them with a form error, tests/search/test_text_pages.py)."""
    corpus, ids = shades
    crossed = {"taken_after": "2024-08-01", "taken_before": "2024-07-01"}
    assert names(search(api, corpus, **crossed)) == []
    assert names(similar(api, corpus, {"image_id": ids["red.png"], **crossed})) == []


def test_similar_refuses_wrongly_typed_filters(api, shades):
    corpus, ids = shades
    response = similar(api, corpus, {"image_id": ids["red.png"], "tags": "warm"})
    assert response.status_code == 400 and "tags" in error_of(response)["fields"]


def test_the_schema_documents_the_filters():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    for path, content_type in [
        ("/api/v1/corpora/{corpus_id}/search/", "multipart/form-data"),
        ("/api/v1/corpora/{corpus_id}/search/similar/", "application/json"),
    ]:
        body = schema["paths"][path]["post"]["requestBody"]["content"][content_type]["schema"]
        name = body["$ref"].rsplit("/", 1)[1]
        properties = schema["components"]["schemas"][name]["properties"]
        assert {"tags", "label", "taken_after", "taken_before", "camera", "metadata"} <= set(
            properties
        )
        assert properties["tags"]["type"] == "array"
        assert properties["metadata"]["items"]["pattern"].startswith("^[^=")
        formats = {option.get("format") for option in properties["taken_after"]["anyOf"]}
        assert formats == {"date", "date-time", None}  # None: blank, no bound
        assert properties["taken_after"]["example"] == ""


class FilteredQuery(SearchFiltersSerializer):
    q = serializers.CharField(required=False)


def query_of(path: str) -> dict:
    return validated_query(Request(APIRequestFactory().get(path)), [FilteredQuery])


def test_a_query_string_lets_metadata_keys_through_and_nothing_else():
    values = query_of("/?q=dog&tags=beach&tags=sun&metadata.roll=3&metadata=film%3DPortra")
    filters = values["filters"]
    assert filters.tags == ("beach", "sun")
    assert set(filters.metadata) == {("roll", "3"), ("film", "Portra")}
    with pytest.raises(serializers.ValidationError) as caught:
        query_of("/?q=dog&metadata.roll=3&colour=red")
    assert set(caught.value.detail) == {"colour"}
