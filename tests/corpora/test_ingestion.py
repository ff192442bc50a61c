from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings

from corpora import services
from corpora.models import CorpusStatus, ImageRecord, ImageStatus
from search.encoders import get_encoder
from search.services import search_vectors
from tests.factories import (
    decompression_bomb_png,
    image_bytes,
    index_of,
    make_corpus,
    photo_bytes,
    stored_vector,
    truncated_jpeg,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return decompression_bomb_png()


def upload(corpus, files: dict[str, bytes], **kwargs):
    return services.ingest_files(
        corpus=corpus, files=[(name, io.BytesIO(data)) for name, data in files.items()], **kwargs
    )


def test_a_mixed_upload_keeps_the_good_files_and_explains_the_bad(
    user, bomb, django_capture_on_commit_callbacks
):
    corpus = make_corpus(user)
    jpeg = photo_bytes("chelsea.png", "JPEG", (200, 150))
    files = {
        "cat.jpg": jpeg,
        "coffee.png": photo_bytes("coffee.png", "PNG", (160, 120)),
        "rocket.webp": photo_bytes("rocket.jpg", "WEBP", (120, 160)),
        "truncated.jpg": truncated_jpeg(),
        "notes.jpg": b"these are my shopping notes, not a picture\n",
        "empty.png": b"",
        "bomb.png": bomb,
        "cat-again.jpg": jpeg,
    }
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        report = upload(corpus, files)

    assert [record.original_filename for record in report.accepted] == [
        "cat.jpg",
        "coffee.png",
        "rocket.webp",
    ]
    assert [(d.filename, d.existing_id) for d in report.duplicates] == [
        ("cat-again.jpg", report.accepted[0].pk)
    ]
    reasons = {rejected.filename: rejected.error for rejected in report.rejected}
    assert set(reasons) == {"truncated.jpg", "notes.jpg", "empty.png", "bomb.png"}
    assert "damaged" in reasons["truncated.jpg"]
    assert "Not an image" in reasons["notes.jpg"]
    assert "empty" in reasons["empty.png"]
    # The bomb's real size and CRIER's limit, not Pillow's.
    assert "30000×30000 pixels (900,000,000)" in reasons["bomb.png"]
    assert f"at most {settings.CRIER_MAX_IMAGE_PIXELS:,} pixels" in reasons["bomb.png"]
    assert len(callbacks) == 1  # one task for the whole upload, not one per image

    # The task ran (django-q sync mode): the good files are encoded and searchable.
    corpus.refresh_from_db()
    assert corpus.status == CorpusStatus.READY
    assert index_of(corpus).indexed_count == 3
    assert set(corpus.images.values_list("status", flat=True)) == {ImageStatus.ENCODED}
    query = get_encoder("histogram").encode([jpeg])[0]
    result = search_vectors(corpus=corpus, query=query, k=3)
    assert result.hits[0].record_id == report.accepted[0].pk
    assert result.hits[0].score == pytest.approx(1.0, abs=1e-4)


def test_records_describe_their_files(user):
    corpus = make_corpus(user)
    data = photo_bytes("coffee.png", "PNG", (160, 120))
    (record,) = upload(corpus, {"../../etc/my coffee.PNG": data}, enqueue=False).accepted
    record.refresh_from_db()
    assert record.original_filename == "my coffee.PNG"
    assert (record.width, record.height, record.format, record.byte_size) == (
        160,
        120,
        "PNG",
        len(data),
    )
    assert record.status == ImageStatus.PENDING
    assert record.metadata == {"path": "../../etc/my coffee.PNG"}
    stored = Path(record.file.path)
    assert stored.is_relative_to(Path(settings.MEDIA_ROOT)) and "coffee" not in stored.name
    assert stored.read_bytes() == data


def test_rejected_and_duplicate_files_store_nothing(user):
    corpus = make_corpus(user)
    data = image_bytes(seed=3)
    upload(corpus, {"a.png": data}, enqueue=False)
    report = upload(corpus, {"b.png": data, "c.png": b"nope", "d.png": data}, enqueue=False)
    assert len(report.duplicates) == 2 and len(report.rejected) == 1
    assert ImageRecord.objects.count() == 1
    assert len(list(Path(settings.MEDIA_ROOT).rglob("*.png"))) == 1


def test_an_oversized_file_is_rejected_with_the_limit(user, settings):
    settings.CRIER_MAX_UPLOAD_BYTES = 1000
    data = image_bytes(seed=4, size=(200, 200))
    (rejected,) = upload(make_corpus(user), {"big.png": data}).rejected
    # The real size (not the 1001 bytes read before giving up) and CRIER's own limit.
    real = f"{len(data) / 1024:.1f} KiB"
    assert rejected.error == f"The file is {real}; CRIER accepts at most 1000 bytes per image."


def test_too_many_pixels_is_refused_even_when_pillow_would_allow_it(user, settings):
    settings.CRIER_MAX_IMAGE_PIXELS = 100 * 100
    report = upload(make_corpus(user), {"wide.png": image_bytes(size=(101, 100))})
    assert report.rejected[0].error.startswith(
        "The image is 101×100 pixels (10,100); CRIER accepts at most 10,000 pixels per image"
    )


def test_upload_to_a_corpus_marks_it_indexing_until_the_worker_runs(user):
    corpus = make_corpus(user)
    upload(corpus, {"a.png": image_bytes(seed=5)})  # on_commit never fires in this test
    corpus.refresh_from_db()
    assert corpus.status == CorpusStatus.INDEXING


def test_create_corpus_validates_its_input(user):
    with pytest.raises(services.InvalidInput, match="name"):
        services.create_corpus(owner=user, name="   ")
    with pytest.raises(services.InvalidInput, match="Visibility"):
        services.create_corpus(owner=user, name="x", visibility="secret")
    with pytest.raises(services.InvalidInput, match="expires_in_minutes"):
        services.create_corpus(owner=user, name="x", expires_in_minutes=0)
    with pytest.raises(services.InvalidInput, match="Unknown encoder"):
        services.create_corpus(owner=user, name="x", encoder="resnet-9000")
    corpus = services.create_corpus(owner=user, name="x", expires_in_minutes=30)
    assert corpus.expires_at is not None and corpus.encoder == "histogram"
    with pytest.raises(services.Conflict, match="already have"):
        services.create_corpus(owner=user, name="x")


def test_vectors_are_float32_rows_of_the_encoder_dimension(
    user, django_capture_on_commit_callbacks
):
    corpus = make_corpus(user)
    with django_capture_on_commit_callbacks(execute=True):
        upload(corpus, {"a.png": image_bytes(seed=8), "b.png": image_bytes(seed=9)})
    for record in corpus.images.all():
        stored = stored_vector(record)
        vector = np.frombuffer(stored.vector, dtype=np.float32)
        assert vector.shape == (get_encoder("histogram").dim,)
        assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)
        assert stored.fingerprint == get_encoder("histogram").fingerprint
