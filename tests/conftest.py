"""Shared fixtures. Every test gets its own media and index directories; prepared models (the
converted EfficientNet-Lite0 SavedModel) are shared through CRIER_MODEL_DIR so they build once."""

from __future__ import annotations

from pathlib import Path

import pytest

import search.encoders
from tests.factories import CountingEncoder


@pytest.fixture(autouse=True)
def isolated_data_dirs(settings, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.CRIER_INDEX_DIR = tmp_path / "indices"
    settings.MEDIA_ROOT.mkdir()
    settings.CRIER_INDEX_DIR.mkdir()
    return tmp_path


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user(username="alice", password="a-long-passphrase-1")


@pytest.fixture
def other_user(django_user_model):
    return django_user_model.objects.create_user(username="bob", password="a-long-passphrase-2")


@pytest.fixture
def histogram_by_default(settings):
    """New corpora use the fast histogram encoder unless a test says otherwise."""
    settings.CRIER_ENCODER = "histogram"


@pytest.fixture
def counting_encoder(monkeypatch):
    """Replace the encoder the encoding job gets with a counting wrapper around the real one."""
    counter = CountingEncoder(search.encoders.get_encoder("histogram"))
    monkeypatch.setattr(search.encoders, "get_encoder", lambda name=None: counter)
    return counter
