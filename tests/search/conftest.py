"""Search tests start and end with an empty per-process searcher cache, so an index loaded by
one test never answers another's queries."""

from __future__ import annotations

import pytest

from search.cache import searchers


@pytest.fixture(autouse=True)
def empty_searcher_cache():
    searchers.clear()
    yield
    searchers.clear()
