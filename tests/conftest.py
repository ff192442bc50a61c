"""Shared fixtures. Every test gets its own media and index directories; prepared models (the
converted EfficientNet-Lite0 SavedModel) are shared through CRIER_MODEL_DIR so they build once."""

from __future__ import annotations

from pathlib import Path

import pytest

import corpora.validation
import search.encoders
from search.encoders import registry
from tests.factories import CountingEncoder, WideHistogramEncoder


@pytest.fixture(autouse=True)
def isolated_data_dirs(settings, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.CRIER_INDEX_DIR = tmp_path / "indices"
    settings.MEDIA_ROOT.mkdir()
    settings.CRIER_INDEX_DIR.mkdir()
    return tmp_path


@pytest.fixture(autouse=True)
def empty_cache() -> None:
    """Throttle and sign-in attempt counters never leak from one test into the next."""
    from django.core.cache import cache

    cache.clear()


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


@pytest.fixture
def wide_histogram(monkeypatch) -> WideHistogramEncoder:
    """The encoder ``wide-histogram`` (tests/factories.py) is registered and held by this
    process, so uploads to its corpora get model inputs in fast tests."""
    monkeypatch.setattr(registry, "ENCODERS", (*registry.ENCODERS, WideHistogramEncoder))
    return registry.get_encoder(WideHistogramEncoder.name)


@pytest.fixture(autouse=True)
def neural_encoders_only_in_slow_tests(request, monkeypatch):
    """A test that loads a neural encoder must be marked ``slow`` (``-m "not slow"`` is the quick
    suite). Outside slow tests the per-process encoder cache starts empty, so a model that an
    earlier test loaded is not silently reused, and only numpy encoders (the histogram, test
    encoders) may be built."""
    if request.node.get_closest_marker("slow") or request.node.get_closest_marker("e2e"):
        return
    monkeypatch.setattr(registry, "_cache", {})
    build = registry.build_encoder

    def numpy_only(name: str):
        encoder = build(name)
        if getattr(encoder, "base", encoder).runtime != "numpy":
            pytest.fail(f"this test loads the neural encoder {name!r}: mark it slow")
        return encoder

    monkeypatch.setattr(registry, "build_encoder", numpy_only)
@pytest.fixture(scope="session")
def camera_photos() -> list[Path]:
    """Three 12-MP camera-style JPEGs (4000x3000, quality 90), the last one stored sideways
    with EXIF orientation 6. Made at test time into tests/fixtures/camera/ (not committed) and
    reused by later runs; benchmarks/camera_photos.py makes them."""
    from benchmarks.camera_photos import write_camera_photos

    return write_camera_photos(Path(__file__).parent / "fixtures" / "camera", 3, rotated_every=3)


@pytest.fixture
def count_decodes(monkeypatch):
    """Counts Image.open calls made by the one gate (every decode of uploaded bytes)."""
    calls = []
    original = corpora.validation.Image.open

    def counting_open(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(corpora.validation.Image, "open", counting_open)
    return calls
