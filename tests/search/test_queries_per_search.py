"""A search makes as many database queries as it did before search's data left corpora's rows
(708a49f, #21): the index row comes with the corpus, the query image with its vector, the hits
with their labels. Under load each round trip costs ~20 ms (docs/benchmarks.md, "Refactor
check"), so one more per search is a measurable regression; these counts fail if it comes back."""

from __future__ import annotations

import io

import numpy as np
import pytest
from rest_framework.test import APIClient

from corpora.models import Corpus
from search.selectors import get_searched_corpus, index_version
from search.services import search_vectors
from tests.factories import image_bytes, searchable_corpus, store_labels, stored_vector

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("histogram_by_default")]

DOG = [{"label": "dog", "synonyms": ["hound"], "probability": 0.9}]


@pytest.fixture
def corpus(user, settings):
    settings.CRIER_COPY_SEARCH = False  # copy search reads the query's features besides
    corpus = searchable_corpus(user, "queries", count=4)
    first = corpus.images.order_by("pk").first()
    store_labels(first, DOG)
    return corpus


@pytest.fixture
def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_more_like_this_makes_three_queries(corpus, api, django_assert_num_queries):
    first, second = corpus.images.order_by("pk")[:2]
    url = f"/api/v1/corpora/{corpus.pk}/search/similar/"
    # The corpus with its index row; the image with its vector; the hits with their labels.
    with django_assert_num_queries(3):
        response = api.post(url, {"image_id": second.pk}, format="json")
    assert response.status_code == 200, response.content
    hits = {hit["image_id"]: hit for hit in response.json()["results"]}
    assert second.pk not in hits and len(hits) == 3
    assert hits[first.pk]["labels"] == DOG  # read with the hit, as the labels endpoint has them


def test_search_by_file_makes_two_queries(corpus, api, django_assert_num_queries):
    url = f"/api/v1/corpora/{corpus.pk}/search/"
    # The corpus with its index row; the hits with their labels.
    with django_assert_num_queries(2):
        response = api.post(url, {"image": io.BytesIO(image_bytes(seed=2))}, format="multipart")
    assert response.status_code == 200, response.content
    assert len(response.json()["results"]) == 4


def test_search_by_vector_makes_one_query(corpus, user, django_assert_num_queries):
    loaded = get_searched_corpus(user=user, corpus_id=corpus.pk)
    query = np.frombuffer(stored_vector(corpus.images.order_by("pk").first()).vector, np.float32)
    with django_assert_num_queries(1):  # the hits; the live version came with the corpus
        result = search_vectors(corpus=loaded, query=query, k=2)
    assert result.index_version == index_version(corpus)
    assert result.hits[0].record.labels == DOG


def test_a_corpus_loaded_alone_reads_its_index_row_once(corpus, django_assert_num_queries):
    plain = Corpus.objects.get(pk=corpus.pk)
    query = np.frombuffer(stored_vector(corpus.images.order_by("pk").first()).vector, np.float32)
    with django_assert_num_queries(2):
        search_vectors(corpus=plain, query=query, k=2)
