"""Every anonymous search path — pages and API, by image, more like this, by words, duplicates —
spends one budget per client address (CRIER_ANON_SEARCH_RATE)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from corpora.models import Visibility
from search.api import AnonymousSearchThrottle
from tests.factories import image_bytes, make_corpus, make_record

pytestmark = pytest.mark.django_db


def search_paths(corpus_id: int, image_id: int) -> dict[str, Callable[[], int]]:
    """Each anonymous search, as a call that answers its status code."""
    page, api = Client(), APIClient()

    def query() -> SimpleUploadedFile:
        return SimpleUploadedFile("q.png", image_bytes(seed=7), content_type="image/png")

    return {
        "page: by image": lambda: (
            page.post(reverse("search:results", args=[corpus_id]), {"image": query()}).status_code
        ),
        "page: more like this": lambda: (
            page.get(reverse("search:similar", args=[corpus_id, image_id])).status_code
        ),
        "page: words, everywhere": lambda: (
            page.get(reverse("search:text"), {"q": "dog"}).status_code
        ),
        "page: words, one corpus": lambda: (
            page.get(reverse("search:corpus_text", args=[corpus_id]), {"q": "dog"}).status_code
        ),
        "page: duplicates": lambda: (
            page.get(reverse("search:duplicates", args=[corpus_id])).status_code
        ),
        "api: by image": lambda: (
            api.post(
                reverse("api:search", args=[corpus_id]), {"image": query()}, format="multipart"
            ).status_code
        ),
        "api: more like this": lambda: (
            api.post(
                reverse("api:search-similar", args=[corpus_id]),
                {"image_id": image_id},
                format="json",
            ).status_code
        ),
        "api: words, one corpus": lambda: (
            api.get(reverse("api:search", args=[corpus_id]), {"q": "dog"}).status_code
        ),
        "api: words, everywhere": lambda: (
            api.get(reverse("api:text-search"), {"q": "dog"}).status_code
        ),
        "api: duplicates": lambda: api.get(reverse("api:duplicates", args=[corpus_id])).status_code,
    }


def test_every_anonymous_search_path_spends_the_same_budget(user, monkeypatch):
    corpus = make_corpus(user, visibility=Visibility.PUBLIC)
    record = make_record(corpus)
    paths = search_paths(corpus.pk, record.pk)
    monkeypatch.setattr(AnonymousSearchThrottle, "rate", f"{len(paths)}/minute", raising=False)
    first = {name: call() for name, call in paths.items()}
    assert 429 not in first.values(), first
    # The budget is spent: every path now refuses, whichever one spent it.
    second = {name: call() for name, call in paths.items()}
    assert second == dict.fromkeys(paths, 429)


def test_more_like_this_page_is_throttled_like_its_api(user, monkeypatch):
    """Reported: 60 anonymous "more like this" pages all answered 200 while the API said 429."""
    corpus = make_corpus(user, visibility=Visibility.PUBLIC)
    record = make_record(corpus)
    monkeypatch.setattr(AnonymousSearchThrottle, "rate", "2/minute", raising=False)
    page = Client()
    url = reverse("search:similar", args=[corpus.pk, record.pk])
    codes = [page.get(url).status_code for _ in range(3)]
    assert codes[-1] == 429 and 429 not in codes[:2]
    assert b"Too many searches" in page.get(url).content
    page.force_login(user)  # signed-in people are not throttled
    assert page.get(url).status_code != 429
