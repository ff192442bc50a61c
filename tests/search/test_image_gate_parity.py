"""Every bad image gets the same status and message from the API and from the pages, as a
query and as an upload: one gate (corpora.validation.decode_image) decides for all of them."""

from __future__ import annotations

import html
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image
from rest_framework.test import APIClient

from tests.api_helpers import error_of
from tests.factories import (
    decompression_bomb_png,
    image_bytes,
    searchable_corpus,
    truncated_jpeg,
)

pytestmark = pytest.mark.django_db


def _ppm() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (10, 200, 30)).save(buffer, format="PPM")
    return buffer.getvalue()


# name: (bytes maker, settings to apply, status, a part of the message every answer must carry)
BAD_INPUTS = {
    "ppm": (_ppm, {}, 400, "Unsupported image format PPM"),
    "over-pixel-cap": (
        lambda: image_bytes(size=(101, 100)),
        {"CRIER_MAX_IMAGE_PIXELS": 100 * 100},
        413,
        "101×100 pixels (10,100); CRIER accepts at most 10,000 pixels",
    ),
    "over-byte-cap": (
        lambda: image_bytes(seed=4, size=(200, 200)),
        {"CRIER_MAX_UPLOAD_BYTES": 1000},
        413,
        "CRIER accepts at most 1000 bytes per image",
    ),
    "decompression-bomb": (
        decompression_bomb_png,
        {},
        413,
        "30000×30000 pixels (900,000,000); CRIER accepts at most 50,000,000 pixels",
    ),
    "truncated": (truncated_jpeg, {}, 400, "The image is damaged and cannot be decoded"),
    "not-an-image": (lambda: b"my shopping list\n", {}, 400, "Not an image file"),
    "empty": (lambda: b"", {}, 400, "The file is empty."),
}


@pytest.fixture
def searchable(user, settings):
    settings.CRIER_ENCODER = "histogram"
    return searchable_corpus(user, "parity")


def _bad(name: str, settings) -> tuple[bytes, int, str]:
    make, overrides, status, expected = BAD_INPUTS[name]
    data = make()
    for key, value in overrides.items():
        setattr(settings, key, value)
    return data, status, expected


def _file(data: bytes, name: str = "query.jpg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="image/jpeg")


# what: (API route, page route, multipart field)
ROUTES = {
    "query": ("api:search", "search:results", "image"),
    "upload": ("api:image-list", "corpora:upload", "images"),
}


def _both_ways(client, user, corpus, what: str, data: bytes):
    """POST ``data`` as a query or an upload to the API and to the page, as ``user``."""
    api_route, page_route, field = ROUTES[what]
    api_url = reverse(api_route, args=[corpus.pk])
    page_url = reverse(page_route, args=[corpus.pk])
    api = APIClient()
    api.force_authenticate(user)
    by_api = api.post(api_url, {field: [_file(data, "bad.jpg")]}, format="multipart")
    client.force_login(user)
    return by_api, client.post(page_url, {field: [_file(data, "bad.jpg")]})


@pytest.mark.parametrize("name", BAD_INPUTS)
def test_a_bad_query_gets_the_same_answer_from_the_api_and_the_page(
    name, client, user, searchable, settings
):
    data, status, expected = _bad(name, settings)
    by_api, by_page = _both_ways(client, user, searchable, "query", data)

    api_error = error_of(by_api)
    page_error = by_page.context["error"]
    assert by_api.status_code == by_page.status_code == status
    assert api_error["message"] == page_error.message
    assert expected in api_error["message"]
    assert html.escape(page_error.message) in by_page.content.decode()
    assert " object at 0x" not in api_error["message"]  # never a Python object repr


@pytest.mark.parametrize("name", BAD_INPUTS)
def test_a_bad_upload_gets_the_same_reason_from_the_api_and_the_page(
    name, client, user, searchable, settings
):
    data, _, expected = _bad(name, settings)
    by_api, by_page = _both_ways(client, user, searchable, "upload", data)

    assert by_api.status_code == 202 and by_page.status_code == 200
    (api_rejected,) = by_api.json()["rejected"]
    (page_rejected,) = by_page.context["report"].rejected
    assert api_rejected == {"filename": "bad.jpg", "error": page_rejected.error}
    assert expected in page_rejected.error
    assert searchable.images.count() == 3  # nothing stored
