"""The search endpoint's contract (issue 5), including a search-quality smoke test."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse
from PIL import Image, ImageOps
from rest_framework.test import APIClient

from corpora import services
from tests.api_helpers import as_file, error_of
from tests.factories import image_bytes, index_of, ingested_corpus, make_corpus, photo_bytes

pytestmark = pytest.mark.django_db

PHOTOS = [
    "astronaut.png",
    "chelsea.png",
    "coffee.png",
    "rocket.jpg",
    "horse.png",
    "coins.png",
    "camera.png",
    "moon.png",
    "motorcycle_left.png",
    "hubble_deep_field.jpg",
]


@pytest.fixture
def api() -> APIClient:
    return APIClient()


def search_url(corpus_id: int) -> str:
    return reverse("api:search", args=[corpus_id])


def similar_url(corpus_id: int) -> str:
    return reverse("api:search-similar", args=[corpus_id])


@pytest.fixture
def colours(user, django_capture_on_commit_callbacks):
    files = {
        f"{name}.png": image_bytes(color=rgb)
        for name, rgb in {
            "red": (220, 20, 20),
            "green": (20, 200, 30),
            "blue": (20, 30, 220),
            "dark-red": (120, 10, 10),
        }.items()
    }
    return ingested_corpus(user, "colours", files, django_capture_on_commit_callbacks)


def test_search_by_file_returns_ranked_results(api, user, colours):
    corpus, ids = colours
    api.force_authenticate(user)
    response = api.post(
        search_url(corpus.pk), {"image": as_file(image_bytes(color=(230, 25, 25))), "k": 3}
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "results",
        "took_ms",
        "index_version",
        "offset",
        "next_offset",
        "min_score",
        "matched",
        "matched_capped",
    }
    assert body["offset"] == 0 and body["next_offset"] == 3 and body["matched"] is None
    assert body["index_version"] == index_of(corpus).version
    results = body["results"]
    assert len(results) == 3
    assert results[0]["image_id"] == ids["red.png"] and results[0]["filename"] == "red.png"
    scores = [r["score"] for r in results]
    assert scores == sorted(scores, reverse=True)
    assert set(results[0]) == {
        "image_id",
        "filename",
        "score",
        "url",
        "file_url",
        "thumbnail_url",
        "metadata",
        "tags",
        "caption",
        "labels",
        "taken_at",
        "match",
    }
    assert results[0]["match"] == {"kind": "similar"}  # a flat colour has no local features
    assert api.get(results[0]["file_url"]).status_code == 200


def test_more_like_this_leaves_the_image_out(api, user, colours):
    corpus, ids = colours
    api.force_authenticate(user)
    response = api.post(
        similar_url(corpus.pk), {"image_id": ids["red.png"], "k": 10}, format="json"
    )
    assert response.status_code == 200
    returned = [r["image_id"] for r in response.json()["results"]]
    assert ids["red.png"] not in returned and len(returned) == 3
    assert returned[0] == ids["dark-red.png"]


@pytest.mark.parametrize("k", [0, 101, "many"])
def test_k_out_of_range_is_a_400(api, user, colours, k):
    corpus, ids = colours
    api.force_authenticate(user)
    response = api.post(similar_url(corpus.pk), {"image_id": ids["red.png"], "k": k}, format="json")
    assert response.status_code == 400 and "k" in error_of(response)["message"]


def test_bad_search_input_is_a_400(api, user, colours):
    corpus, _ids = colours
    api.force_authenticate(user)
    not_image = api.post(
        search_url(corpus.pk), {"image": as_file(b"%PDF-1.4 not an image", "a.pdf")}
    )
    assert not_image.status_code == 400 and "image" in error_of(not_image)["message"].lower()
    neither = api.post(search_url(corpus.pk), {})
    assert neither.status_code == 400 and "image" in error_of(neither)["fields"]
    as_json = api.post(search_url(corpus.pk), {"image_id": 1}, format="json")
    assert as_json.status_code == 415  # a query image is multipart; image_id is …/similar/
    unknown = api.post(similar_url(corpus.pk), {"image_id": 999999}, format="json")
    assert unknown.status_code == 404


def test_a_too_large_query_is_a_413(api, user, colours, settings):
    corpus, _ = colours
    settings.CRIER_MAX_UPLOAD_BYTES = 500
    api.force_authenticate(user)
    response = api.post(
        search_url(corpus.pk), {"image": as_file(image_bytes(seed=1, size=(200, 200)))}
    )
    assert response.status_code == 413 and error_of(response)["code"] == "too_large"


def test_search_before_an_index_exists_is_a_409_with_the_status(api, user):
    corpus = make_corpus(user)
    api.force_authenticate(user)
    response = api.post(search_url(corpus.pk), {"image": as_file(image_bytes())})
    assert response.status_code == 409
    error = error_of(response)
    assert error["status"] == "empty"
    services.ingest_files(corpus=corpus, files=[("a.png", io.BytesIO(image_bytes(seed=2)))])
    response = api.post(search_url(corpus.pk), {"image": as_file(image_bytes())})
    assert response.status_code == 409 and error_of(response)["status"] == "indexing"


def test_anonymous_users_search_public_corpora_only(api, user, django_capture_on_commit_callbacks):
    public, _ = ingested_corpus(
        user,
        "open",
        {"a.png": image_bytes(seed=1)},
        django_capture_on_commit_callbacks,
        visibility="public",
    )
    private, _ = ingested_corpus(
        user, "closed", {"a.png": image_bytes(seed=1)}, django_capture_on_commit_callbacks
    )
    assert (
        api.post(search_url(public.pk), {"image": as_file(image_bytes(seed=1))}).status_code == 200
    )
    response = api.post(search_url(private.pk), {"image": as_file(image_bytes(seed=1))})
    assert response.status_code == 404


def test_anonymous_search_is_throttled(api, user, settings, django_capture_on_commit_callbacks):
    from django.core.cache import cache

    cache.clear()
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon_search": "2/minute"},
    }
    from rest_framework.settings import api_settings

    api_settings.reload()
    from search.api import AnonymousSearchThrottle

    AnonymousSearchThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
    try:
        public, ids = ingested_corpus(
            user,
            "open",
            {"a.png": image_bytes(seed=1)},
            django_capture_on_commit_callbacks,
            visibility="public",
        )
        codes = [
            api.post(similar_url(public.pk), {"image_id": ids["a.png"]}, format="json").status_code
            for _ in range(3)
        ]
        assert codes[-1] == 429
        assert (
            "throttled"
            in error_of(api.post(similar_url(public.pk), {"image_id": 1}, format="json"))["code"]
        )
        api.force_authenticate(user)  # signed-in users are not throttled by this rule
        assert (
            api.post(similar_url(public.pk), {"image_id": ids["a.png"]}, format="json").status_code
            == 200
        )
    finally:
        cache.clear()
        AnonymousSearchThrottle.THROTTLE_RATES = {"anon_search": "30/minute"}


def _edit(data: bytes, how: str) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        image = image.convert("RGB")
        w, h = image.size
        if how == "crop":
            image = image.crop((w // 10, h // 10, w - w // 10, h - h // 10))
        elif how == "resize":
            image = image.resize((w // 3, h // 3))
        elif how == "mirror":
            image = ImageOps.mirror(image)
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=80)
    return buffer.getvalue()


@pytest.mark.slow
def test_search_quality_smoke_edited_copies_find_their_original(
    api, user, django_capture_on_commit_callbacks
):
    """Real photos with the real EfficientNet-Lite0 encoder: every edited copy's original is
    the top result."""
    originals = {name: photo_bytes(name, "PNG", (256, 256)) for name in PHOTOS}
    corpus, ids = ingested_corpus(
        user, "photos", originals, django_capture_on_commit_callbacks, encoder="efficientnet-lite0"
    )
    assert corpus.status == "ready" and corpus.encoder == "efficientnet-lite0"
    api.force_authenticate(user)
    misses = []
    for name, data in originals.items():
        for how in ("crop", "resize", "mirror"):
            response = api.post(
                search_url(corpus.pk), {"image": as_file(_edit(data, how), "q.jpg"), "k": 3}
            )
            top = response.json()["results"][0]
            if top["image_id"] != ids[name]:
                misses.append((name, how, top["filename"]))
    assert misses == []
