from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _corpora_use_histogram(histogram_by_default):
    """Corpora in these tests use the fast histogram encoder unless a test says otherwise."""
