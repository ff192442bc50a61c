"""More results: offset + k pages through one ranking, min_score cuts it and counts the
matches (search.queries.params.Page, search.services), through the service, the API and the page."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from rest_framework.test import APIClient

from crier_site.errors import InvalidInput
from search import services
from search.indices import build
from search.queries import params
from tests.api_helpers import error_of
from tests.factories import add_vector_records, make_corpus, unit_vectors

pytestmark = pytest.mark.django_db


def ranking(corpus, query, **page) -> services.SearchResult:
    return services.search_vectors(corpus=corpus, query=query, page=params.validate_page(**page))


def test_pages_of_one_ranking_join_up_without_overlap(indexed_vectors):
    corpus, vectors, _ = indexed_vectors
    whole = ranking(corpus, vectors[5], k=40)
    assert whole.next_offset is None and len(whole.hits) == 40
    seen, offset = [], 0
    while offset is not None:
        page = ranking(corpus, vectors[5], k=7, offset=offset)
        assert page.offset == offset
        seen += [hit.record_id for hit in page.hits]
        offset = page.next_offset
    assert seen == [hit.record_id for hit in whole.hits]
    assert len(set(seen)) == 40


def test_equal_scores_are_ordered_by_image_id(user):
    corpus = make_corpus(user)
    twin = unit_vectors(1)[0]
    records = add_vector_records(corpus, np.stack([twin] * 6 + list(unit_vectors(4, seed=3))))
    build.rebuild_index(corpus=corpus)
    first = ranking(corpus, twin, k=3)
    second = ranking(corpus, twin, k=3, offset=3)
    ids = [hit.record_id for hit in first.hits + second.hits]
    assert ids == sorted(record.pk for record in records[:6])


def test_min_score_cuts_the_ranking_and_counts_the_matches(indexed_vectors):
    corpus, vectors, _ = indexed_vectors
    everything = ranking(corpus, vectors[2], k=40)
    cut = float(everything.hits[9].score)  # exactly ten score at least this
    result = ranking(corpus, vectors[2], k=4, min_score=cut)
    assert result.matched == 10 and not result.matched_capped
    assert [h.record_id for h in result.hits] == [h.record_id for h in everything.hits[:4]]
    assert result.next_offset == 4
    last = ranking(corpus, vectors[2], k=4, offset=8, min_score=cut)
    assert len(last.hits) == 2 and last.next_offset is None
    assert all(hit.score >= cut for hit in last.hits)
    nothing = ranking(corpus, vectors[2], k=4, min_score=1.0 + 0)  # only the vector itself
    assert nothing.matched in (0, 1) and len(nothing.hits) == nothing.matched


def test_more_like_this_pages_too(indexed_vectors):
    corpus, _, records = indexed_vectors
    page = params.validate_page(k=10, offset=30)
    result = services.search_similar(corpus=corpus, record_id=records[0].pk, page=page)
    assert len(result.hits) == 9 and result.next_offset is None  # 39 others
    assert records[0].pk not in [hit.record_id for hit in result.hits]


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"offset": -1}, "offset must be 0 or more"),
        ({"offset": "two"}, "offset must be a whole number"),
        ({"offset": 1000}, "offset must be below 1000"),
        ({"min_score": "1.5"}, "min_score must be a number from -1 to 1"),
        ({"min_score": "nan"}, "min_score must be a number from -1 to 1"),
        ({"min_score": True}, "min_score must be a number from -1 to 1"),
        ({"k": 0}, "k must be a whole number"),
    ],
)
def test_page_parameters_are_checked(given, message):
    with pytest.raises(InvalidInput, match=message):
        params.validate_page(**given)


def test_page_parameters_from_a_form():
    page = params.validate_page(k="50", offset="", min_score="0,75", default_k=24)
    assert page == params.Page(k=50, offset=0, min_score=0.75)
    assert params.validate_page(default_k=24) == params.Page(k=24)
    assert params.validate_page(offset=990, k=10).depth == 1000  # cut at the 1000th hit


# --- the API -----------------------------------------------------------------------------------


def test_the_api_pages_with_offset_and_counts_above_min_score(user, indexed_vectors):
    corpus, _, records = indexed_vectors
    api = APIClient()
    api.force_authenticate(user)
    url = reverse("api:search-similar", args=[corpus.pk])
    body = {"image_id": records[0].pk, "k": 5}
    first = api.post(url, body, format="json").json()
    second = api.post(url, {**body, "offset": first["next_offset"]}, format="json").json()
    assert first["offset"] == 0 and first["next_offset"] == 5 and second["offset"] == 5
    ids = [r["image_id"] for r in first["results"] + second["results"]]
    assert len(set(ids)) == 10
    whole = api.post(url, {**body, "k": 10}, format="json").json()
    assert ids == [r["image_id"] for r in whole["results"]]

    scores = [r["score"] for r in whole["results"]]
    cut = (scores[6] + scores[7]) / 2  # seven score above it (scores come rounded)
    counted = api.post(url, {**body, "min_score": cut}, format="json").json()
    assert counted["matched"] == 7 and counted["matched_capped"] is False
    assert counted["min_score"] == pytest.approx(cut) and len(counted["results"]) == 5


@pytest.mark.parametrize(
    ("extra", "field"),
    [({"offset": 1000}, "offset"), ({"offset": -3}, "offset"), ({"min_score": 2}, "min")],
)
def test_the_api_refuses_pages_out_of_range(user, indexed_vectors, extra, field):
    corpus, _, records = indexed_vectors
    api = APIClient()
    api.force_authenticate(user)
    response = api.post(
        reverse("api:search-similar", args=[corpus.pk]),
        {"image_id": records[0].pk, **extra},
        format="json",
    )
    assert response.status_code == 400 and field in error_of(response)["message"]


def test_the_schema_documents_the_limits():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    request = schema["components"]["schemas"]["SearchImageRequest"]["properties"]
    assert request["offset"]["minimum"] == 0 and request["offset"]["maximum"] == 999
    assert "Only the best 1000 hits can be paged" in request["offset"]["description"]
    assert request["min_score"]["minimum"] == -1 and request["min_score"]["maximum"] == 1
    response = schema["components"]["schemas"]["SearchResponse"]["properties"]
    assert {"offset", "next_offset", "min_score", "matched", "matched_capped"} <= set(response)


# --- the pages ---------------------------------------------------------------------------------


def test_more_like_this_page_shows_ranks_from_the_offset_and_a_show_more_link(
    client, user, indexed_vectors
):
    corpus, _, records = indexed_vectors
    client.force_login(user)
    url = reverse("search:similar", args=[corpus.pk, records[0].pk])
    response = client.get(url, {"k": "10", "offset": "10"})
    assert response.status_code == 200
    assert [row.rank for row in response.context["rows"]] == list(range(11, 21))
    html = response.content.decode()
    assert 'href="?k=10&amp;offset=20"' in html and "Starting at #11." in html
    assert '<option value="10" selected>' in html  # the form keeps the choice


def test_results_page_says_how_many_scored_above_the_minimum(client, user, indexed_vectors):
    corpus, _, records = indexed_vectors
    client.force_login(user)
    response = client.get(
        reverse("search:similar", args=[corpus.pk, records[0].pk]),
        {"k": "10", "min_score": "-1"},
    )
    assert response.status_code == 200
    heading = "10</span> most similar images, of 39 scoring -1.0 or more"
    assert heading in response.content.decode()


def test_a_bad_minimum_score_on_the_page_is_a_400_with_the_reason(client, user, indexed_vectors):
    corpus, _, _ = indexed_vectors
    client.force_login(user)
    response = client.post(
        reverse("search:results", args=[corpus.pk]),
        {"image": SimpleUploadedFile("q.png", b"x"), "min_score": "lots"},
    )
    assert response.status_code == 400
    assert "min_score must be a number from -1 to 1" in response.content.decode()
