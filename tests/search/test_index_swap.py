"""Searches running while the index is swapped again and again: none may fail with 409 while a
ready index exists (issue 11 item 5). Searcher threads read the corpus row as a request does;
half of them start every search with an empty per-process cache, like a web process that has not
loaded this corpus's index yet, so they read the version directory from disk."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from corpora.models import Corpus
from search.indices import build
from search.indices.cache import searchers
from search.services import IndexNotReady, search_vectors
from tests.factories import add_vector_records, index_of, indexed_vector_corpus, unit_vectors

pytestmark = pytest.mark.django_db(transaction=True)  # the threads see committed rows only

SEARCHERS = 4
SWAPS = 25


def test_searches_during_repeated_swaps_never_find_the_index_gone(user):
    vectors = unit_vectors(20 + SWAPS, seed=1)
    corpus, _ = indexed_vector_corpus(user, vectors[:20])
    first_version = index_of(corpus).version
    stop = threading.Event()
    failures: list[Exception] = []
    searches = [0] * SEARCHERS

    def search_until_stopped(number: int) -> None:
        try:
            while not stop.is_set():
                row = Corpus.objects.get(pk=corpus.pk)
                if number % 2:
                    searchers.discard(corpus.pk)
                try:
                    result = search_vectors(corpus=row, query=vectors[number], k=5)
                    assert result.hits
                except IndexNotReady as exc:
                    failures.append(exc)
                searches[number] += 1
        except Exception as exc:  # anything else fails the test too
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=search_until_stopped, args=(n,)) for n in range(SEARCHERS)]
    for thread in threads:
        thread.start()
    try:
        for swap in range(SWAPS):
            add_vector_records(corpus, vectors[20 + swap : 21 + swap])
            build.update_index(corpus=corpus)  # a brute-force index: rebuilt, a new version
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)

    corpus.refresh_from_db()
    assert (
        index_of(corpus).version != first_version and index_of(corpus).indexed_count == 20 + SWAPS
    )
    assert min(searches) > 0
    assert failures == [], f"{len(failures)} of {sum(searches)} searches failed: {failures[:3]}"
