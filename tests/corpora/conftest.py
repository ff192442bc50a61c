from __future__ import annotations

import pytest

from tests.factories import CountingEncoder


@pytest.fixture(autouse=True)
def histogram_by_default(settings):
    """Corpora in these tests use the fast histogram encoder unless a test says otherwise."""
    settings.CRIER_ENCODER = "histogram"


@pytest.fixture
def counting_encoder(monkeypatch):
    """Replace the encoder the encoding job gets with a counting wrapper around the real one."""
    import search.encoders
    from search.encoders import get_encoder

    counter = CountingEncoder(get_encoder("histogram"))
    monkeypatch.setattr(search.encoders, "get_encoder", lambda name=None: counter)
    return counter
