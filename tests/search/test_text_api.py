"""Text search over the API: GET /api/v1/search/?q= (every corpus the caller may see) and
GET /api/v1/corpora/{id}/search/?q= (one corpus)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from corpora.models import Visibility
from tests.api_helpers import error_of
from tests.factories import described_record, make_corpus

pytestmark = pytest.mark.django_db

GLOBAL = reverse("api:text-search")


def corpus_url(corpus_id: int) -> str:
    return reverse("api:search", args=[corpus_id])


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def corpora(user, other_user):
    """Alice's private and public corpora, Bob's private and public ones: a dog in each."""
    made = {}
    for owner, who in ((user, "alice"), (other_user, "bob")):
        for visibility in (Visibility.PRIVATE, Visibility.PUBLIC):
            corpus = make_corpus(owner, f"{who}-{visibility}", visibility=visibility)
            described_record(corpus, f"{who}-{visibility}.jpg", tags=["dog"])
            made[f"{who}-{visibility}"] = corpus
    return made


def found(response) -> list[str]:
    assert response.status_code == 200, response.content
    return sorted(hit["corpus_name"] for hit in response.json()["results"])


def test_the_global_search_covers_own_and_public_corpora(api, user, corpora) -> None:
    api.force_authenticate(user)
    assert found(api.get(GLOBAL, {"q": "dog"})) == ["alice-private", "alice-public", "bob-public"]


def test_anonymous_callers_search_the_public_corpora(api, corpora) -> None:
    assert found(api.get(GLOBAL, {"q": "dog"})) == ["alice-public", "bob-public"]


def test_someone_elses_private_corpus_is_not_found(api, user, corpora) -> None:
    api.force_authenticate(user)
    response = api.get(corpus_url(corpora["bob-private"].pk), {"q": "dog"})
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"
    assert found(api.get(corpus_url(corpora["bob-public"].pk), {"q": "dog"})) == ["bob-public"]
    assert found(api.get(corpus_url(corpora["alice-private"].pk), {"q": "dog"})) == [
        "alice-private"
    ]
    api.force_authenticate(None)
    response = api.get(corpus_url(corpora["alice-private"].pk), {"q": "dog"})
    assert response.status_code == 404


def test_a_hit_carries_its_corpus_links_labels_and_tags(api, user) -> None:
    corpus = make_corpus(user, "pets")
    record = described_record(
        corpus,
        "rex.jpg",
        tags=["Rex"],
        labels=[("Chihuahua", ["dog"], 0.5)],
        caption="Rex, our dog",
    )
    api.force_authenticate(user)
    response = api.get(corpus_url(corpus.pk), {"q": "dog"})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "results",
        "took_ms",
        "q",
        "words",
        "unmatched_words",
        "offset",
        "next_offset",
    }
    assert body["q"] == "dog" and body["words"] == ["dog"] and body["next_offset"] is None
    assert body["unmatched_words"] == []
    (hit,) = body["results"]
    assert hit["image_id"] == record.pk
    assert hit["corpus_id"] == corpus.pk and hit["corpus_name"] == "pets"
    assert hit["filename"] == "rex.jpg"
    assert hit["matched"] == ["labels", "caption"] and hit["matched_words"] == ["dog"]
    assert hit["score"] == pytest.approx(1 - (1 - 0.45) * (1 - 0.6), abs=1e-6)
    assert hit["tags"] == ["Rex"] and hit["labels"][0]["label"] == "Chihuahua"
    assert hit["caption"] == "Rex, our dog"
    thumbnail = reverse("api:image-thumbnail", args=[corpus.pk, record.pk])
    assert hit["thumbnail_url"] == f"http://testserver{thumbnail}"
    assert hit["url"].endswith(reverse("api:image-detail", args=[corpus.pk, record.pk]))
    assert api.get(hit["thumbnail_url"]).status_code in (200, 404)  # reachable route


def test_images_holding_some_words_follow_and_words_held_by_none_are_named(api, user) -> None:
    corpus = make_corpus(user, "park")
    described_record(corpus, "both.jpg", tags=["dog", "red"])
    described_record(corpus, "dog.jpg", tags=["dog"])
    api.force_authenticate(user)
    body = api.get(corpus_url(corpus.pk), {"q": "red dog on grass"}).json()
    assert body["words"] == ["red", "dog", "grass"] and body["unmatched_words"] == ["grass"]
    hits = [(hit["filename"], hit["matched_words"]) for hit in body["results"]]
    assert hits == [("both.jpg", ["red", "dog"]), ("dog.jpg", ["dog"])]


def test_pages_follow_next_offset(api, user) -> None:
    corpus = make_corpus(user, "many")
    for i in range(5):
        described_record(corpus, f"{i}.jpg", tags=["dog"])
    api.force_authenticate(user)
    seen, offset = [], 0
    while offset is not None:
        body = api.get(GLOBAL, {"q": "dogs", "k": 2, "offset": offset}).json()
        seen += [hit["filename"] for hit in body["results"]]
        offset = body["next_offset"]
    assert seen == [f"{i}.jpg" for i in range(5)]


@pytest.mark.parametrize("url", ["global", "corpus"])
def test_the_filters_of_every_search_apply(api, user, url) -> None:
    corpus = make_corpus(user, "trip")
    described_record(corpus, "a.jpg", tags=["dog", "beach"])
    described_record(corpus, "b.jpg", tags=["dog"], labels=[("pug", ["dog"], 0.9)])
    record = described_record(corpus, "c.jpg", tags=["dog", "Beach"])
    record.metadata = {"roll": 3}
    record.save(update_fields=["metadata"])
    api.force_authenticate(user)
    address = GLOBAL if url == "global" else corpus_url(corpus.pk)

    def names(params) -> list[str]:
        response = api.get(address, params)
        assert response.status_code == 200, response.content
        return [hit["filename"] for hit in response.json()["results"]]

    assert names({"q": "dog"}) == ["b.jpg", "a.jpg", "c.jpg"]
    assert names({"q": "dog", "tags": "beach"}) == ["a.jpg", "c.jpg"]
    assert names({"q": "dog", "label": "pug"}) == ["b.jpg"]
    assert names({"q": "dog", "metadata.roll": "3"}) == ["c.jpg"]
    assert names({"q": "dog", "metadata": "roll=3", "tags": ["beach", "dog"]}) == ["c.jpg"]
    response = api.get(address, {"q": "dog", "taken_after": "last summer"})
    assert response.status_code == 400
    assert error_of(response).get("field") == "taken_after"


@pytest.mark.parametrize("url", ["global", "corpus"])
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "q"),
        ({"q": ""}, "q"),
        ({"q": "   "}, "q"),
        ({"q": "x" * 201}, "q"),
        ({"q": "dog", "k": 0}, "k"),
        ({"q": "dog", "k": 101}, "k"),
        ({"q": "dog", "offset": -1}, "offset"),
        ({"q": "dog", "offset": 1000}, "offset"),
        ({"q": "dog", "min_score": 0.5}, "min_score"),
        ({"q": "dog", "colour": "red"}, "colour"),
    ],
)
def test_bad_queries_are_a_400_naming_the_parameter(api, user, url, params, field) -> None:
    corpus = make_corpus(user)
    api.force_authenticate(user)
    response = api.get(GLOBAL if url == "global" else corpus_url(corpus.pk), params)
    assert response.status_code == 400, response.content
    error = error_of(response)
    assert error["code"] == "invalid" and field in error["fields"], error


def test_a_query_without_words_is_answered_with_no_hits(api, user, corpora) -> None:
    api.force_authenticate(user)
    body = api.get(GLOBAL, {"q": "?! the"}).json()
    assert body["results"] == [] and body["words"] == [] and body["next_offset"] is None


def test_the_schema_documents_both_operations() -> None:
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    for path in ("/api/v1/search/", "/api/v1/corpora/{corpus_id}/search/"):
        operation = schema["paths"][path]["get"]
        params = {param["name"]: param for param in operation["parameters"]}
        assert params["q"]["required"] and params["q"]["schema"]["maxLength"] == 200
        assert {"k", "offset", "tags", "label", "camera", "taken_after"} <= set(params)
        assert "200" in operation["responses"] and "400" in operation["responses"]
        assert "429" in operation["responses"]
        # gunicorn's own page for a request line past 4094 bytes (only past q's maxLength).
        assert set(operation["responses"]["414"]["content"]) == {"application/json"}
    by_image = schema["paths"]["/api/v1/corpora/{corpus_id}/search/"]["post"]
    assert "414" not in by_image["responses"]  # no string in its query
