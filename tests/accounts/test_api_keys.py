"""API keys (issue 24): Bearer or Token, several named keys per user with a scope and an
optional expiry, stored as digests, made and revoked by page and by API."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import keys
from accounts.models import ApiKey, Scope
from corpora.models import Corpus
from tests.api_helpers import error_of
from tests.factories import make_corpus

pytestmark = pytest.mark.django_db
PASSWORD = "a-long-passphrase-1"  # the ``user`` fixture's


@pytest.fixture
def api() -> APIClient:
    return APIClient()


def with_key(api: APIClient, key: str, scheme: str = "Bearer") -> APIClient:
    api.credentials(HTTP_AUTHORIZATION=f"{scheme} {key}")
    return api


def corpus_url(corpus_id: int) -> str:
    return reverse("api:corpus-detail", args=[corpus_id])


@pytest.mark.parametrize("scheme", ["Bearer", "Token", "bearer", "TOKEN"])
def test_either_scheme_reads_ones_own_private_corpus(api, user, scheme):
    corpus = make_corpus(user)  # private
    key = keys.create_key(user=user, name="script").secret
    response = with_key(api, key, scheme).get(corpus_url(corpus.pk))
    assert response.status_code == 200, response.content
    assert response.json()["id"] == corpus.pk


@pytest.mark.parametrize(
    "header",
    ["Basic YWxpY2U6c2VjcmV0", "Bearer", "Token", "Bearer a b", "crier_abc", "Bearer\tx y"],
)
def test_any_other_authorization_is_a_401_naming_the_accepted_forms(api, user, header):
    corpus = make_corpus(user)
    api.credentials(HTTP_AUTHORIZATION=header)
    for response in (
        api.get(corpus_url(corpus.pk)),
        api.get(reverse("api:text-search"), {"q": "x"}),
    ):
        assert response.status_code == 401
        error = error_of(response)
        assert error["code"] == "bad_authorization"
        assert "Bearer <key>" in error["message"] and "Token <key>" in error["message"]
        assert response["WWW-Authenticate"].startswith("Bearer")


def test_an_unknown_key_is_a_401(api, user):
    key = keys.create_key(user=user, name="script").secret
    response = with_key(api, key[:-1] + ("A" if key[-1] != "A" else "B")).get(
        reverse("api:corpus-list")
    )
    assert response.status_code == 401
    assert error_of(response)["code"] == "invalid_key"


def test_keys_are_stored_as_digests_only(user):
    new = keys.create_key(user=user, name="script")
    stored = ApiKey.objects.get(pk=new.api_key.pk)
    assert new.secret.startswith("crier_") and new.secret.startswith(stored.prefix)
    assert new.secret not in {stored.digest, stored.prefix, stored.name}
    assert stored.digest == keys.digest_of(new.secret) and len(stored.digest) == 64


def test_expired_and_revoked_keys_are_refused_saying_so(api, user):
    expiring = keys.create_key(
        user=user, name="short", expires_at=timezone.now() + timedelta(seconds=60)
    )
    ApiKey.objects.filter(pk=expiring.api_key.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    response = with_key(api, expiring.secret).get(reverse("api:corpus-list"))
    assert response.status_code == 401
    assert (
        error_of(response)["code"] == "key_expired" and "expired" in error_of(response)["message"]
    )

    revoked = keys.create_key(user=user, name="gone")
    keys.revoke_key(user=user, key_id=revoked.api_key.pk)
    response = with_key(api, revoked.secret).get(reverse("api:corpus-list"))
    assert response.status_code == 401
    assert (
        error_of(response)["code"] == "key_revoked" and "revoked" in error_of(response)["message"]
    )


def test_a_read_key_reads_and_searches_but_may_not_write(api, user):
    corpus = make_corpus(user)
    read = keys.create_key(user=user, name="reader", scope=Scope.READ).secret
    with_key(api, read)
    assert api.get(corpus_url(corpus.pk)).status_code == 200
    similar = api.post(
        reverse("api:search-similar", args=[corpus.pk]), {"image_id": 1}, format="json"
    )
    assert similar.status_code != 403, similar.content  # a search is a read
    for response in (
        api.post(reverse("api:corpus-list"), {"name": "new"}, format="json"),
        api.patch(corpus_url(corpus.pk), {"name": "renamed"}, format="json"),
        api.delete(corpus_url(corpus.pk)),
        api.post(reverse("api:key-list"), {"name": "escalate"}, format="json"),
    ):
        assert response.status_code == 403
        assert error_of(response)["code"] == "read_only_key"
    assert Corpus.objects.get(pk=corpus.pk).name == "holiday"
    assert ApiKey.objects.filter(user=user).count() == 1
    assert api.delete(reverse("api:token-revoke")).status_code == 204  # itself, though
    assert api.get(corpus_url(corpus.pk)).status_code == 401


def test_last_used_is_written_at_most_once_a_minute(api, user):
    new = keys.create_key(user=user, name="busy")
    with_key(api, new.secret)
    assert api.get(reverse("api:corpus-list")).status_code == 200
    first = ApiKey.objects.get(pk=new.api_key.pk).last_used_at
    assert first is not None
    with CaptureQueriesContext(connection) as queries:
        assert api.get(reverse("api:corpus-list")).status_code == 200
    assert not [
        q
        for q in queries.captured_queries
        if "accounts_apikey" in q["sql"] and q["sql"].startswith("UPDATE")
    ]
    ApiKey.objects.filter(pk=new.api_key.pk).update(last_used_at=first - timedelta(minutes=2))
    api.get(reverse("api:corpus-list"))
    assert ApiKey.objects.get(pk=new.api_key.pk).last_used_at > first


def test_keys_are_made_listed_and_revoked_by_the_api(api, user, other_user):
    with_key(api, keys.create_key(user=user, name="admin script").secret)
    made = api.post(
        reverse("api:key-list"),
        {"name": "search client", "scope": "read", "expires_in_days": 30},
        format="json",
    )
    assert made.status_code == 201, made.content
    body = made.json()
    assert body["token"].startswith(body["prefix"]) and body["scope"] == "read"
    assert body["last_used_at"] is None and body["expired"] is False
    expires = timezone.datetime.fromisoformat(body["expires_at"])
    assert timedelta(days=29) < expires - timezone.now() <= timedelta(days=30)

    listed = api.get(reverse("api:key-list")).json()
    assert [k["name"] for k in listed] == ["search client", "admin script"]
    assert all("token" not in k for k in listed)

    theirs = keys.create_key(user=other_user, name="bob's").api_key
    assert api.delete(reverse("api:key-detail", args=[theirs.pk])).status_code == 404
    assert api.delete(reverse("api:key-detail", args=[body["id"]])).status_code == 204
    assert [k["name"] for k in api.get(reverse("api:key-list")).json()] == ["admin script"]
    assert with_key(APIClient(), body["token"]).get(reverse("api:key-list")).status_code == 401

    never = api.post(reverse("api:key-list"), {"name": "x", "expires_in_days": None}, format="json")
    assert never.status_code == 201 and never.json()["expires_at"] is None
    zero = api.post(reverse("api:key-list"), {"name": "x", "expires_in_days": 0}, format="json")
    assert zero.status_code == 400 and "expires_in_days" in error_of(zero)["fields"]


def test_the_token_endpoint_makes_a_new_key_each_time(api, user):
    def sign_in(**extra):
        return api.post(
            reverse("api:token"),
            {"username": "alice", "password": PASSWORD, **extra},
            format="json",
        )

    first, second = sign_in().json(), sign_in(name="ci", scope="read").json()
    assert first["token"] != second["token"]
    assert (first["name"], first["scope"], first["expires_at"]) == (
        "API sign-in",
        "read-write",
        None,
    )
    assert (second["name"], second["scope"]) == ("ci", "read")
    for token in (first["token"], second["token"]):
        assert with_key(APIClient(), token).get(reverse("api:corpus-list")).status_code == 200


def test_the_token_page_makes_shows_once_and_revokes_keys(client, user):
    client.force_login(user)
    url = reverse("token")
    assert "You have no API key." in client.get(url).content.decode()

    response = client.post(
        url, {"action": "create", "name": "uploader", "scope": "read", "expires_in_days": "30"}
    )
    assert response.status_code == 302
    stored = ApiKey.objects.get(user=user)
    assert stored.scope == Scope.READ and stored.expires_at > timezone.now() + timedelta(days=29)
    page = client.get(url).content.decode()
    secret = page.split('id="new-key" value="', 1)[1].split('"', 1)[0]
    assert keys.check_key(secret) == stored
    assert "uploader" in page and stored.prefix in page
    assert secret not in client.get(url).content.decode()  # shown once

    assert client.post(url, {"action": "create", "name": ""}).status_code == 400
    client.post(url, {"action": "revoke", "key_id": stored.pk})
    assert ApiKey.objects.get(pk=stored.pk).revoked_at is not None
    assert "You have no API key." in client.get(url).content.decode()


def test_someone_elses_key_cannot_be_revoked_from_the_page(client, user, other_user):
    theirs = keys.create_key(user=other_user, name="bob's").api_key
    client.force_login(user)
    client.post(reverse("token"), {"action": "revoke", "key_id": theirs.pk})
    assert ApiKey.objects.get(pk=theirs.pk).revoked_at is None
