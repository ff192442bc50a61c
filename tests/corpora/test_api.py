"""The REST contract of corpora and images (issue 5), with DRF's APIClient."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from corpora.models import Corpus, ImageRecord
from tests.api_helpers import error_of, upload_file
from tests.factories import image_bytes, make_corpus, make_record, photo_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def alice(api, user) -> APIClient:
    api.force_authenticate(user)
    return api


def corpus_url(corpus_id: int) -> str:
    return reverse("api:corpus-detail", args=[corpus_id])


def images_url(corpus_id: int) -> str:
    return reverse("api:image-list", args=[corpus_id])


# --- auth ----------------------------------------------------------------------------------------


def test_token_auth_round_trip(api, user):
    response = api.post(
        reverse("api:token"),
        {"username": "alice", "password": "a-long-passphrase-1"},
        format="json",
    )
    assert response.status_code == 200
    token = response.json()["token"]

    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert (
        api.post(reverse("api:corpus-list"), {"name": "via token"}, format="json").status_code
        == 201
    )
    assert api.delete(reverse("api:token-revoke")).status_code == 204
    assert api.get(reverse("api:corpus-list")).status_code == 401


def test_bad_credentials_are_a_clear_401(api, user):
    response = api.post(
        reverse("api:token"), {"username": "alice", "password": "nope"}, format="json"
    )
    assert response.status_code == 401
    assert "Wrong username or password" in error_of(response)["message"]


def test_anonymous_users_cannot_write(api, user):
    corpus = make_corpus(user, visibility="public")
    record = make_record(corpus)
    attempts = [
        api.post(reverse("api:corpus-list"), {"name": "x"}, format="json"),
        api.patch(corpus_url(corpus.pk), {"name": "y"}, format="json"),
        api.delete(corpus_url(corpus.pk)),
        api.post(images_url(corpus.pk), {"images": [upload_file("a.png", image_bytes())]}),
        api.delete(reverse("api:image-detail", args=[corpus.pk, record.pk])),
    ]
    for response in attempts:
        assert response.status_code in (401, 403), response.content
        error_of(response)
    assert Corpus.objects.get(pk=corpus.pk).name == "holiday"
    assert ImageRecord.objects.filter(pk=record.pk).exists()


# --- corpora -------------------------------------------------------------------------------------


def test_create_and_read_a_corpus(alice):
    response = alice.post(
        reverse("api:corpus-list"),
        {
            "name": "Birds",
            "description": "garden",
            "visibility": "public",
            "expires_in_minutes": 90,
        },
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    for key in (
        "id",
        "name",
        "description",
        "visibility",
        "status",
        "image_count",
        "encoded_count",
        "pending_count",
        "failed_count",
        "encoder",
        "created_at",
        "expires_at",
    ):
        assert key in body
    assert body["status"] == "empty" and body["image_count"] == 0
    assert body["visibility"] == "public" and body["expires_at"] is not None
    assert body["encoder"] == "histogram"
    assert alice.get(corpus_url(body["id"])).json()["name"] == "Birds"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "name"),
        ({"name": "x", "visibility": "secret"}, "visibility"),
        ({"name": "x", "expires_in_minutes": 0}, "expires_in_minutes"),
        ({"name": "x", "expires_in_minutes": "soon"}, "expires_in_minutes"),
    ],
)
def test_create_rejects_bad_input(alice, payload, field):
    response = alice.post(reverse("api:corpus-list"), payload, format="json")
    assert response.status_code == 400
    assert field in error_of(response)["message"]


def test_the_encoder_is_chosen_at_creation_and_can_be_changed(
    alice, django_capture_on_commit_callbacks
):
    created = alice.post(
        reverse("api:corpus-list"), {"name": "b", "encoder": "efficientnet-lite1"}, format="json"
    )
    assert created.status_code == 201 and created.json()["encoder"] == "efficientnet-lite1"
    for unknown in ("no-such-model", "/etc", "https://tfhub.dev/google/x/1"):
        refused = alice.post(
            reverse("api:corpus-list"), {"name": "c", "encoder": unknown}, format="json"
        )
        assert refused.status_code == 400 and "encoder" in error_of(refused)["message"]
    url = corpus_url(created.json()["id"])
    refused = alice.patch(url, {"encoder": "no-such-model"}, format="json")
    assert refused.status_code == 400 and "encoder" in error_of(refused)["message"]
    assert Corpus.objects.get(pk=created.json()["id"]).encoder == "efficientnet-lite1"
    with django_capture_on_commit_callbacks(execute=False) as jobs:
        change = alice.patch(url, {"encoder": "histogram"}, format="json")
    assert change.status_code == 200 and change.json()["encoder"] == "histogram"
    assert change.json()["status"] == "indexing" and jobs  # encoded in the background
    assert Corpus.objects.get(pk=created.json()["id"]).encoder == "histogram"


def test_duplicate_corpus_name_is_a_409_conflict(alice, user):
    make_corpus(user, "Birds")
    response = alice.post(reverse("api:corpus-list"), {"name": "Birds"}, format="json")
    assert response.status_code == 409 and "already" in error_of(response)["message"]
    assert error_of(response)["field"] == "name"


def test_list_shows_mine_and_public_on_request(alice, user, other_user):
    make_corpus(user, "mine")
    make_corpus(other_user, "their public", visibility="public")
    make_corpus(other_user, "their private")
    names = {c["name"] for c in alice.get(reverse("api:corpus-list")).json()}
    assert names == {"mine"}
    names = {c["name"] for c in alice.get(reverse("api:corpus-list") + "?public=true").json()}
    assert names == {"mine", "their public"}


def test_counts_follow_the_images(alice, user):
    corpus = make_corpus(user)
    make_record(corpus, image_bytes(seed=1), name="1.png", status="encoded")
    make_record(corpus, image_bytes(seed=2), name="2.png", status="failed", error="bad")
    make_record(corpus, image_bytes(seed=3), name="3.png")
    body = alice.get(corpus_url(corpus.pk)).json()
    assert (
        body["image_count"],
        body["encoded_count"],
        body["pending_count"],
        body["failed_count"],
    ) == (
        3,
        1,
        1,
        1,
    )
    (listed,) = alice.get(reverse("api:corpus-list")).json()
    assert listed["image_count"] == 3 and listed["failed_count"] == 1


def test_patch_and_delete_a_corpus(alice, user):
    corpus = make_corpus(user, expires_at=None)
    response = alice.patch(
        corpus_url(corpus.pk), {"description": "new", "expires_in_minutes": 5}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["description"] == "new" and response.json()["name"] == "holiday"
    assert response.json()["expires_at"] is not None
    response = alice.patch(corpus_url(corpus.pk), {"expires_in_minutes": None}, format="json")
    assert response.json()["expires_at"] is None
    assert alice.patch(corpus_url(corpus.pk), {"visibility": "x"}, format="json").status_code == 400

    assert alice.delete(corpus_url(corpus.pk)).status_code == 204
    assert Corpus.objects.get(pk=corpus.pk).trashed_at is not None  # in the trash
    assert alice.get(corpus_url(corpus.pk)).status_code == 404


# --- images --------------------------------------------------------------------------------------


def test_upload_reports_each_file(alice, user, django_capture_on_commit_callbacks):
    corpus = make_corpus(user)
    good = photo_bytes("coffee.png", "JPEG", (120, 90))
    with django_capture_on_commit_callbacks(execute=True):
        response = alice.post(
            images_url(corpus.pk),
            {
                "images": [
                    upload_file("coffee.jpg", good),
                    upload_file("again.jpg", good),
                    upload_file("notes.jpg", b"plain text"),
                ]
            },
        )
    assert response.status_code == 202
    body = response.json()
    (accepted,) = body["accepted"]
    assert accepted["filename"] == "coffee.jpg" and isinstance(accepted["id"], int)
    assert body["duplicates"] == [{"filename": "again.jpg", "existing_id": accepted["id"]}]
    assert body["rejected"][0]["filename"] == "notes.jpg"
    assert "Not an image" in body["rejected"][0]["error"]
    status = alice.get(corpus_url(corpus.pk)).json()
    assert status["status"] == "ready" and status["encoded_count"] == 1


def test_upload_without_files_is_a_400(alice, user):
    corpus = make_corpus(user)
    response = alice.post(images_url(corpus.pk), {"other": "x"})
    assert response.status_code == 400 and "images" in error_of(response)["message"]


def test_a_request_over_the_size_limit_is_a_413(alice, user, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2000
    corpus = make_corpus(user)
    response = alice.post(
        images_url(corpus.pk),
        {"images": [upload_file("big.png", image_bytes(seed=1, size=(300, 300)))]},
    )
    assert response.status_code == 413
    assert error_of(response)["code"] == "too_large"
    assert not corpus.images.exists()


def test_list_images_is_paginated(alice, user):
    corpus = make_corpus(user)
    for seed in range(3):
        make_record(corpus, image_bytes(seed=seed), name=f"{seed}.png")
    body = alice.get(images_url(corpus.pk) + "?page_size=2").json()
    assert body["count"] == 3 and len(body["results"]) == 2 and body["next"]
    first = body["results"][0]
    for key in (
        "id",
        "filename",
        "status",
        "width",
        "height",
        "format",
        "metadata",
        "url",
        "file_url",
    ):
        assert key in first


def test_image_detail_file_and_delete(alice, user, django_capture_on_commit_callbacks):
    corpus = make_corpus(user)
    data = image_bytes(seed=5, fmt="JPEG")
    record = make_record(corpus, data, name="photo.jpg", format="JPEG")
    detail_url = reverse("api:image-detail", args=[corpus.pk, record.pk])
    body = alice.get(detail_url).json()
    assert body["filename"] == "photo.jpg" and body["file_url"].endswith("/file/")

    response = alice.get(body["file_url"])
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert b"".join(response.streaming_content) == data

    with django_capture_on_commit_callbacks(execute=True):
        assert alice.delete(detail_url).status_code == 204
    assert alice.get(detail_url).status_code == 404
    assert alice.get(body["file_url"]).status_code == 404
    assert alice.delete(detail_url).status_code == 404


def test_unknown_ids_are_404_with_json(alice, user):
    corpus = make_corpus(user)
    for url in (
        corpus_url(999999),
        images_url(999999),
        reverse("api:image-detail", args=[corpus.pk, 999999]),
        reverse("api:image-file", args=[corpus.pk, 999999]),
    ):
        response = alice.get(url)
        assert response.status_code == 404, url
        assert error_of(response)["code"] == "not_found"


# --- isolation -----------------------------------------------------------------------------------


def test_another_users_private_corpus_is_404_everywhere(api, user, other_user):
    corpus = make_corpus(user, "secret")
    record = make_record(corpus)
    api.force_authenticate(other_user)
    image_url = reverse("api:image-detail", args=[corpus.pk, record.pk])
    calls = [
        ("get", corpus_url(corpus.pk), None),
        ("patch", corpus_url(corpus.pk), {"name": "mine now"}),
        ("delete", corpus_url(corpus.pk), None),
        ("get", images_url(corpus.pk), None),
        ("post", images_url(corpus.pk), {"images": [upload_file("a.png", image_bytes(seed=9))]}),
        ("get", image_url, None),
        ("delete", image_url, None),
        ("get", reverse("api:image-file", args=[corpus.pk, record.pk]), None),
        ("post", reverse("api:search-similar", args=[corpus.pk]), {"image_id": record.pk}),
    ]
    for method, url, data in calls:
        kwargs = (
            {"format": "json"}
            if method in ("patch",) or (method == "post" and "image_id" in (data or {}))
            else {}
        )
        response = getattr(api, method)(url, data, **kwargs)
        assert response.status_code == 404, (method, url, response.status_code)
        assert "secret" not in response.content.decode()
    assert Corpus.objects.get(pk=corpus.pk).name == "secret"
    assert ImageRecord.objects.filter(pk=record.pk).exists()
    assert {c["id"] for c in api.get(reverse("api:corpus-list") + "?public=true").json()} == set()


def test_another_users_public_corpus_is_readable_but_not_writable(api, user, other_user):
    corpus = make_corpus(user, "shared", visibility="public")
    record = make_record(corpus)
    api.force_authenticate(other_user)
    assert api.get(corpus_url(corpus.pk)).status_code == 200
    assert api.get(reverse("api:image-file", args=[corpus.pk, record.pk])).status_code == 200
    response = api.patch(corpus_url(corpus.pk), {"name": "taken"}, format="json")
    assert response.status_code == 403 and "owner" in error_of(response)["message"]
    assert api.delete(corpus_url(corpus.pk)).status_code == 403
    assert (
        api.post(
            images_url(corpus.pk), {"images": [upload_file("a.png", image_bytes())]}
        ).status_code
        == 403
    )
    assert Corpus.objects.get(pk=corpus.pk).name == "shared"


def test_anonymous_users_read_public_corpora_only(api, user):
    public = make_corpus(user, "open", visibility="public")
    private = make_corpus(user, "closed")
    public_record, private_record = make_record(public), make_record(private)
    assert api.get(corpus_url(public.pk)).status_code == 200
    assert api.get(reverse("api:image-file", args=[public.pk, public_record.pk])).status_code == 200
    assert api.get(corpus_url(private.pk)).status_code == 404
    assert (
        api.get(reverse("api:image-file", args=[private.pk, private_record.pk])).status_code == 404
    )
    assert api.get(reverse("api:corpus-list")).json() == []


def test_private_files_are_not_reachable_through_a_media_url(client, user, settings):
    record = make_record(make_corpus(user))
    for url in (
        settings.MEDIA_URL + record.file.name,
        "/media/" + record.file.name,
        "/static/../" + record.file.name,
    ):
        assert client.get(url).status_code == 404


def test_openapi_schema_and_docs(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    text = schema.content.decode()
    for path in ("/api/v1/corpora/{corpus_id}/search/", "/api/v1/corpora/{corpus_id}/images/"):
        assert path in text
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"cdn." not in docs.content and b"jsdelivr" not in docs.content


def test_bulk_delete_images(alice, user, other_user):
    corpus = make_corpus(user)
    records = [make_record(corpus, image_bytes(seed=i), name=f"{i}.png") for i in range(4)]
    theirs = make_record(make_corpus(other_user, "theirs"), image_bytes(seed=9), name="t.png")
    url = reverse("api:image-bulk-delete", args=[corpus.pk])

    response = alice.post(
        url, {"ids": [records[0].pk, records[2].pk, theirs.pk, 999999]}, format="json"
    )
    assert response.status_code == 200
    assert response.json() == {"deleted": 2, "not_found": sorted([theirs.pk, 999999])}
    left = set(corpus.images.values_list("pk", flat=True))
    assert left == {records[1].pk, records[3].pk}
    assert ImageRecord.objects.filter(pk=theirs.pk).exists()  # never someone else's

    for bad in ({}, {"ids": []}, {"ids": ["x"]}):
        refused = alice.post(url, bad, format="json")
        assert refused.status_code == 400 and "ids" in error_of(refused)["message"]
    other = reverse("api:image-bulk-delete", args=[theirs.corpus_id])
    assert alice.post(other, {"ids": [theirs.pk]}, format="json").status_code == 404
