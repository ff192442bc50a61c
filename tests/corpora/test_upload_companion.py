"""corpora's upload-companion hook (corpora.preparation): another app decides the decode scale,
derives what it needs from each upload's one decode and keeps it beside the stored file;
corpora never knows what it is (search uses it for the encoder's model input)."""

from __future__ import annotations

import io

import pytest

from corpora import preparation, services
from tests.factories import image_bytes, make_corpus

pytestmark = pytest.mark.django_db


class RecordingCompanion:
    decode_side = 400

    def __init__(self) -> None:
        self.pictures: list[tuple[int, int]] = []
        self.saved: list[tuple[str, object]] = []
        self.discarded: list[str] = []

    def derive(self, picture):
        self.pictures.append(picture.size)
        return ("derived", picture.size)

    def save(self, storage, original_name, derived):
        self.saved.append((original_name, derived))

    def discard(self, storage, original_name):
        self.discarded.append(original_name)


@pytest.fixture
def companion(monkeypatch) -> RecordingCompanion:
    made = RecordingCompanion()
    monkeypatch.setattr(preparation, "_companion_for", lambda encoder: made)
    return made


def test_each_upload_is_decoded_once_at_the_companions_scale_and_handed_over(
    user, companion, count_decodes
):
    corpus = make_corpus(user)
    files = {
        f"{seed}.jpg": image_bytes(seed=seed, size=(1600, 1200), fmt="JPEG") for seed in (1, 2)
    }
    report = services.ingest_files(
        corpus=corpus,
        files=[(name, io.BytesIO(data)) for name, data in files.items()],
        enqueue=False,
    )
    assert len(report.accepted) == 2 and len(count_decodes) == 2  # one decode per file
    assert len(companion.pictures) == 2
    assert all(min(size) >= companion.decode_side for size in companion.pictures)
    stored = {record.file.name for record in report.accepted}
    assert {name for name, _ in companion.saved} == stored
    assert all(derived[0] == "derived" for _, derived in companion.saved)


def test_a_companion_that_decodes_smaller_than_the_thumbnail_is_not_used(user, monkeypatch):
    small = RecordingCompanion()
    small.decode_side = 32
    monkeypatch.setattr(preparation, "_companion_for", lambda encoder: small)
    plan = preparation.plan_for("anything")
    assert plan.companion is None and plan.decode_side == preparation.thumbnails.DECODE_SIDE


def test_a_broken_companion_never_breaks_an_upload(user, monkeypatch):
    def broken(encoder):
        raise RuntimeError("model folder unreadable")

    monkeypatch.setattr(preparation, "_companion_for", broken)
    corpus = make_corpus(user)
    report = services.ingest_files(
        corpus=corpus, files=[("a.png", io.BytesIO(image_bytes(seed=3)))], enqueue=False
    )
    assert len(report.accepted) == 1
