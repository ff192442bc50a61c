"""Each search filter is declared once (``search.queries.filters.FILTERS``) and everything else
follows: the API serializers and so the OpenAPI schema, the pages' filter form, validation,
``apply``, ``is_empty``, the "next page" parameters and the docs table. A walkthrough declares a
``min_width`` filter here, the way docs/metadata.md says, and finds it everywhere."""

from __future__ import annotations

from pathlib import Path

import pytest
from django import forms
from django.db.models import Q
from django.http import QueryDict
from django.urls import reverse
from drf_spectacular.generators import SchemaGenerator
from rest_framework import serializers
from rest_framework.test import APIClient

from crier_site.errors import InvalidInput
from search.forms import FilterForm
from search.queries import filters
from search.queries.filters import FilterSpec, ImageFilters, filter_specs, validate_filters
from search.serializers import (
    SearchFiltersSerializer,
    SearchImageSerializer,
    SearchSimilarSerializer,
    TextSearchQuerySerializer,
)
from tests.api_helpers import as_file
from tests.factories import image_bytes, ingested_corpus

DOCS = Path(__file__).resolve().parents[2] / "docs" / "metadata.md"
SERIALIZERS = (SearchImageSerializer, SearchSimilarSerializer, TextSearchQuerySerializer)


def schema_filter_names() -> dict[str, set[str]]:
    """Per search operation, the filter-able names the OpenAPI schema documents."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    found = {}
    for path, content_type in [
        ("/api/v1/corpora/{corpus_id}/search/", "multipart/form-data"),
        ("/api/v1/corpora/{corpus_id}/search/similar/", "application/json"),
    ]:
        body = schema["paths"][path]["post"]["requestBody"]["content"][content_type]["schema"]
        component = schema["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
        found[f"POST {path}"] = set(component["properties"])
    parameters = schema["paths"]["/api/v1/search/"]["get"]["parameters"]
    found["GET /api/v1/search/"] = {p["name"] for p in parameters if p["in"] == "query"}
    return found


def missing_filters() -> list[str]:
    """Every (surface, filter) where a declared filter does not show."""
    missing = []
    for name in filter_specs():
        for serializer in SERIALIZERS:
            if name not in serializer().fields:
                missing.append(f"{serializer.__name__}: {name}")
        if name not in FilterForm().fields:
            missing.append(f"FilterForm: {name}")
        for operation, names in schema_filter_names().items():
            if name not in names:
                missing.append(f"schema {operation}: {name}")
    return missing


def test_every_declared_filter_is_in_the_api_the_form_and_the_schema():
    assert missing_filters() == []


def test_the_check_finds_a_filter_left_out_of_the_api(monkeypatch):
    declared = SearchFiltersSerializer.get_fields

    def without_camera(self):
        fields = declared(self)
        fields.pop("camera")
        return fields

    monkeypatch.setattr(SearchFiltersSerializer, "get_fields", without_camera)
    assert "SearchImageSerializer: camera" in missing_filters()
    schema_gaps = [entry for entry in missing_filters() if entry.startswith("schema POST")]
    assert schema_gaps and all(entry.endswith(": camera") for entry in schema_gaps)


def test_the_docs_table_is_the_declarations():
    assert filters.markdown_table() in DOCS.read_text(), (
        "docs/metadata.md's filter table differs from the declarations: paste "
        "search.queries.filters.markdown_table() over it"
    )


# --- the walkthrough: a min_width filter, declared once -------------------------------------------


def parse_min_width(data) -> int | None:
    raw = filters._one(data, "min_width")
    if raw is None or raw == "":
        return None
    problem = "min_width is a whole number of pixels, at least 1."
    if isinstance(raw, bool):
        raise InvalidInput(problem, field="min_width")
    try:
        width = int(raw)
    except (TypeError, ValueError):
        raise InvalidInput(problem, field="min_width") from None
    if width < 1:
        raise InvalidInput(problem, field="min_width")
    return width


MIN_WIDTH = FilterSpec(
    name="min_width",
    parse=parse_min_width,
    where=lambda width: [Q(width__gte=width)],
    api_field=serializers.IntegerField(
        required=False, min_value=1, help_text="Only images at least this many pixels wide."
    ),
    form_field=forms.IntegerField(required=False, min_value=1, label="At least this wide (px)"),
    matches="the image is at least this many pixels wide",
    example="`min_width=1024`",
)


@pytest.fixture
def min_width(monkeypatch) -> FilterSpec:
    monkeypatch.setattr(filters, "FILTERS", (*filters.FILTERS, MIN_WIDTH))  # the one line
    return MIN_WIDTH


def test_a_new_filter_shows_in_the_api_the_form_the_schema_and_the_docs_table(min_width):
    assert missing_filters() == []
    assert all("min_width" in serializer().fields for serializer in SERIALIZERS)
    assert "min_width" in FilterForm().fields
    assert all("min_width" in names for names in schema_filter_names().values())
    assert "| `min_width` | the image is at least this many pixels wide |" in (
        filters.markdown_table()
    )


def test_a_new_filter_validates_applies_and_round_trips(min_width):
    chosen = validate_filters({"min_width": "100"})
    assert chosen.min_width == 100 and not chosen.is_empty
    assert chosen.to_params() == [("min_width", "100")]
    assert validate_filters(QueryDict("min_width=100")) == chosen
    assert ImageFilters().min_width is None and ImageFilters().is_empty
    with pytest.raises(InvalidInput) as caught:
        validate_filters({"min_width": "wide"})
    assert caught.value.details["field"] == "min_width"


def test_a_new_filter_on_the_page_form(min_width):
    form = FilterForm(QueryDict("min_width=100&tags=beach"))
    assert form.in_use and form.filters() == validate_filters({"min_width": 100, "tags": "beach"})
    refused = FilterForm(QueryDict("min_width=0"))
    assert refused.filters() is None and "min_width" in refused.errors


@pytest.mark.django_db
def test_a_new_filter_keeps_only_its_images_through_the_api(
    min_width, user, django_capture_on_commit_callbacks
):
    files = {
        "narrow.png": image_bytes(color=(220, 20, 20), size=(40, 30)),
        "wide.png": image_bytes(color=(200, 30, 30), size=(160, 120)),
    }
    corpus, ids = ingested_corpus(user, "widths", files, django_capture_on_commit_callbacks)
    api = APIClient()
    api.force_authenticate(user)
    query = as_file(image_bytes(color=(220, 20, 20), size=(40, 30)))
    response = api.post(
        reverse("api:search", args=[corpus.pk]), {"image": query, "k": 5, "min_width": 100}
    )
    assert response.status_code == 200, response.content
    assert [hit["image_id"] for hit in response.json()["results"]] == [ids["wide.png"]]
    response = api.get(reverse("api:text-search"), {"q": "narrow", "min_width": "x"})
    assert response.status_code == 400
    assert "min_width" in response.json()["error"]["fields"]
