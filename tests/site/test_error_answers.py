"""Every failure gets a proper answer (issue #25 item 6): input the parsers cannot read is a 400,
every /api/ error is the JSON envelope (500 included; pages keep their HTML 500 page), and a
database that cannot be reached is a 503 with Retry-After, on the API and on the pages."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from corpora.metadata import parse_metadata_field
from crier_site.errors import InvalidInput
from tests.api_helpers import error_of, upload_file
from tests.factories import image_bytes, make_corpus

DEEP = 100_000  # far beyond Python's recursion limit


def deep_json() -> str:
    return "[" * DEEP + "]" * DEEP


@pytest.mark.django_db
def test_deeply_nested_json_is_a_400_for_anyone(client):
    response = client.post(reverse("api:token"), deep_json(), content_type="application/json")
    assert response.status_code == 400
    assert "nested too deeply" in error_of(response)["message"]


@pytest.mark.django_db
def test_deeply_nested_json_is_a_400_on_every_json_endpoint(user):
    corpus = make_corpus(user, status="ready")
    api = APIClient()
    api.force_authenticate(user)
    for method, url in [
        ("post", reverse("api:corpus-list")),
        ("patch", reverse("api:corpus-detail", args=[corpus.pk])),
        ("post", reverse("api:image-bulk-delete", args=[corpus.pk])),
        ("post", reverse("api:search-similar", args=[corpus.pk])),
    ]:
        response = getattr(api, method)(url, deep_json(), content_type="application/json")
        assert response.status_code == 400, (url, response.content[:200])
        assert error_of(response)["code"] == "invalid"


def test_the_upload_metadata_field_nested_too_deeply_is_refused():
    with pytest.raises(InvalidInput, match="nested too deeply"):
        parse_metadata_field("{" + '"a":{' * DEEP + "}" * DEEP + "}")


@pytest.mark.django_db
def test_an_upload_with_deeply_nested_metadata_is_a_400(user):
    corpus = make_corpus(user)
    api = APIClient()
    api.force_authenticate(user)
    response = api.post(
        reverse("api:image-list", args=[corpus.pk]),
        {"images": [upload_file("a.png", image_bytes())], "metadata": deep_json()},
        format="multipart",
    )
    assert response.status_code == 400
    assert "nested too deeply" in error_of(response)["message"]
    assert not corpus.images.exists()


BROKEN_MULTIPART = "multipart/form-data; boundary=BOUNDARY"
BROKEN_BODY = b'--BOUNDARY\r\nContent-Disposition: form-data; name="images"; filename="a'


@pytest.mark.django_db
def test_a_broken_multipart_body_is_a_400_on_the_api_and_the_page(user):
    corpus = make_corpus(user)
    api = APIClient()
    api.force_authenticate(user)
    url = reverse("api:image-list", args=[corpus.pk])
    response = api.generic("POST", url, BROKEN_BODY, content_type=BROKEN_MULTIPART)
    assert response.status_code == 400
    assert error_of(response)["message"]

    page = Client(raise_request_exception=False)
    page.force_login(user)
    url = reverse("corpora:upload", args=[corpus.pk])
    response = page.generic("POST", url, BROKEN_BODY, content_type=BROKEN_MULTIPART)
    assert response.status_code == 400


@pytest.fixture
def broken_view(monkeypatch):
    """The corpus list (API) and the home page (site) raise a bug."""
    from corpora import api as corpora_api
    from crier_site import views

    def bug(*args, **kwargs):
        raise ValueError("a bug")

    monkeypatch.setattr(corpora_api.selectors, "visible_corpora", bug)
    monkeypatch.setattr(views, "get_example_corpus", bug)


@pytest.mark.django_db
def test_an_api_500_is_the_error_envelope_and_a_page_500_the_html_page(broken_view):
    client = Client(raise_request_exception=False)
    response = client.get(reverse("api:corpus-list"), {"public": "true"})
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert error_of(response)["code"] == "server_error"

    response = client.get(reverse("home"))
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")
    assert "Something went wrong" in response.content.decode()


@pytest.fixture
def database_down():
    """The database server stops answering: the next connection goes to a closed port."""
    settings_dict = connection.settings_dict
    saved = dict(settings_dict)
    connection.close()
    if connection.vendor == "postgresql":
        settings_dict.update(HOST="127.0.0.1", PORT="9")  # discard: nothing listens
    else:
        settings_dict["NAME"] = "/nonexistent-dir/crier.sqlite3"
    try:
        yield
    finally:
        connection.close()
        settings_dict.clear()
        settings_dict.update(saved)


@pytest.mark.django_db(transaction=True)
def test_a_database_outage_is_a_503_with_retry_after(database_down):
    client = Client(raise_request_exception=False)

    response = client.get(reverse("api:corpus-list"), {"public": "true"})
    assert response.status_code == 503
    assert error_of(response)["code"] == "unavailable"
    assert "database is unavailable" in error_of(response)["message"]
    assert response["Retry-After"] == str(error_of(response)["retry_after_seconds"])

    response = client.get(reverse("home"))
    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/html")
    assert "Retry-After" in response
    assert "database is unavailable" in response.content.decode()

    # Signed in (the session itself is in the database) and through the search page.
    client.cookies["sessionid"] = "s" * 32
    response = client.get(reverse("corpora:list"))
    assert response.status_code == 503 and "Retry-After" in response


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"caption": "a\u0000b"}, "NUL"),
        ({"tags": ["x\u0000"]}, "NUL"),
        ({"caption": "\ud800"}, "lone surrogate"),
        ({"metadata": {"k": float("inf")}}, "not plain JSON"),
    ],
    ids=["nul-caption", "nul-tag", "surrogate-caption", "infinity"],
)
def test_text_the_database_cannot_store_is_a_400_not_a_500(user, body, expected):
    """PostgreSQL refuses U+0000, lone surrogates and NaN/Infinity in jsonb: refused as input,
    on PATCH and per file on upload (the request was a 500 before)."""
    from corpora.metadata import parse_annotation
    from tests.factories import make_record

    corpus = make_corpus(user)
    record = make_record(corpus)
    api = APIClient()
    api.force_authenticate(user)
    with pytest.raises(InvalidInput, match=expected):
        parse_annotation(body)
    if "metadata" in body:  # JSON has no Infinity: only the upload's metadata text can say it
        metadata = '{"a.png": {"metadata": {"k": Infinity}}}'
    else:
        metadata = json.dumps({"a.png": body})  # ASCII, with \u escapes
        url = reverse("api:image-detail", args=[corpus.pk, record.pk])
        response = api.patch(url, metadata[len('{"a.png": ') : -1], content_type="application/json")
        assert response.status_code == 400, response.content
    response = api.post(
        reverse("api:image-list", args=[corpus.pk]),
        {"images": [upload_file("a.png", image_bytes(seed=5))], "metadata": metadata},
        format="multipart",
    )
    assert response.status_code == 202
    (rejected,) = response.json()["rejected"]
    assert expected in rejected["error"]
