"""Shared fixtures. Every test gets its own media and index directories; prepared models (the
converted EfficientNet-Lite0 SavedModel) are shared through CRIER_MODEL_DIR so they build once."""

from __future__ import annotations

from pathlib import Path

import pytest


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
