"""Search tests start and end with an empty per-process searcher cache, so an index loaded by
one test never answers another's queries."""

from __future__ import annotations

import pytest

from search.indices import build
from search.indices.cache import searchers
from tests.factories import add_vector_records, make_corpus, unit_vectors


@pytest.fixture(autouse=True)
def empty_searcher_cache():
    searchers.clear()
    yield
    searchers.clear()


@pytest.fixture
def indexed_vectors(user):
    """A corpus of 40 random unit vectors with a brute-force index: (corpus, vectors, records)."""
    corpus = make_corpus(user)
    vectors = unit_vectors(40)
    records = add_vector_records(corpus, vectors)
    build.rebuild_index(corpus=corpus)
    return corpus, vectors, records
