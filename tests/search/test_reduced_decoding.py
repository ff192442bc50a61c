"""Camera photos are decoded once, at the scale the model needs: JPEG DCT scaling (draft) or
a box reduce to no less than 2x the model's side, EXIF orientation applied, then the exact
resize. One decode per file on each path: upload, encoding job, query."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from benchmarks.camera_photos import camera_image
from corpora import services
from corpora.models import ImageStatus
from corpora.validation import decode_image
from search.copies import store
from search.encoders import get_encoder
from search.encoders.base import make_fingerprint
from search.encoders.histogram import BINS, SIZE
from search.encoding import job
from search.encoding.preprocessing import decode_side, open_image, resize_for_model
from search.services import search_image
from tests.factories import (
    image_bytes,
    index_of,
    make_corpus,
    make_record,
    store_vectors,
    stored_vector,
)

pytestmark = pytest.mark.django_db


def _correlation(a: Image.Image, b: Image.Image) -> float:
    x = np.asarray(a.convert("L").resize((64, 48)), dtype=np.float64).ravel()
    y = np.asarray(b.convert("L").resize((64, 48)), dtype=np.float64).ravel()
    return float(np.corrcoef(x, y)[0, 1])


def test_a_12mp_jpeg_is_decoded_at_the_smallest_dct_scale_still_twice_the_model(camera_photos):
    data = camera_photos[0].read_bytes()
    side = decode_side(224, 0.875)  # Lite0: the 0.875 centre crop must keep >= 448 px
    assert side == 512
    decoded = decode_image(data, min_side=side)
    # 1/4 scale (750 px short side); 1/8 would give 375 < 512.
    assert decoded.image.size == (1000, 750) and decoded.image.mode == "RGB"
    assert (decoded.info.width, decoded.info.height, decoded.info.format) == (4000, 3000, "JPEG")
    full = Image.open(io.BytesIO(data)).convert("RGB")
    assert _correlation(decoded.image, full) > 0.99


def test_exif_orientation_is_applied_and_recorded_upright(camera_photos):
    rotated = camera_photos[2]  # stored 3000x4000, EXIF orientation 6
    with Image.open(rotated) as stored:
        assert stored.size == (3000, 4000)
    decoded = decode_image(rotated.read_bytes(), min_side=512)
    assert decoded.image.size == (1000, 750)  # upright, like the camera saw it
    assert (decoded.info.width, decoded.info.height) == (4000, 3000)
    upright = camera_image(2, size=(400, 300))
    assert _correlation(decoded.image, upright) > 0.95
    assert _correlation(decoded.image.transpose(Image.Transpose.ROTATE_180), upright) < 0.9


def test_other_formats_are_box_reduced_and_the_resize_matches_a_full_one():
    big = camera_image(3, size=(2000, 1500))
    buffer = io.BytesIO()
    big.save(buffer, format="PNG")
    picture = open_image(buffer.getvalue(), min_side=400)
    assert picture.size == (667, 500)  # reduce(3): the largest factor keeping >= 400
    assert open_image(buffer.getvalue()).size == (2000, 1500)  # no min_side: full size
    reduced = np.asarray(resize_for_model(picture, 224, 0.875), dtype=np.float32)
    full = np.asarray(resize_for_model(big, 224, 0.875), dtype=np.float32)
    assert np.abs(reduced - full).mean() < 3.0  # of 255: the same picture for the model


def test_small_images_are_never_upscaled():
    small = camera_image(4, size=(300, 200))
    buffer = io.BytesIO()
    small.save(buffer, format="JPEG", quality=90)
    assert decode_image(buffer.getvalue(), min_side=512).image.size == (300, 200)


def test_one_decode_per_file_on_upload_encoding_and_query(
    user, client, camera_photos, count_decodes, settings
):
    settings.CRIER_ENCODER = "histogram"
    corpus = make_corpus(user, "camera")
    data = camera_photos[0].read_bytes()
    report = services.ingest_files(
        corpus=corpus, files=[("camera.jpg", io.BytesIO(data))], enqueue=False
    )
    assert len(report.accepted) == 1 and len(count_decodes) == 1

    # Copy search's data (docs/copies.md: picture boxes, local features) is found on the
    # picture the job decodes for the encoder: still one decode (the histogram encoder leaves no
    # model input at upload, so the job decodes the original).
    count_decodes.clear()
    outcome = job.encode_corpus(corpus_id=corpus.pk)
    corpus.refresh_from_db()
    assert index_of(corpus).version and len(count_decodes) == 1
    assert outcome.encoded == 1 and outcome.described == 1
    assert store.features_of([report.accepted[0].pk])[report.accepted[0].pk][0].width == 320

    count_decodes.clear()
    client.force_login(user)
    query = SimpleUploadedFile("q.jpg", camera_photos[1].read_bytes(), "image/jpeg")
    response = client.post(reverse("search:results", args=[corpus.pk]), {"image": query})
    assert response.status_code == 200 and len(count_decodes) == 1


def test_without_copy_search_encoding_decodes_a_file_once(
    user, camera_photos, count_decodes, settings
):
    settings.CRIER_ENCODER = "histogram"
    settings.CRIER_COPY_SEARCH = False
    corpus = make_corpus(user, "camera")
    data = camera_photos[0].read_bytes()
    services.ingest_files(corpus=corpus, files=[("camera.jpg", io.BytesIO(data))], enqueue=False)
    count_decodes.clear()
    job.encode_corpus(corpus_id=corpus.pk)
    corpus.refresh_from_db()
    assert index_of(corpus).version and len(count_decodes) == 1


def test_a_stored_camera_photo_finds_itself(user, camera_photos, settings):
    settings.CRIER_ENCODER = "histogram"
    corpus = make_corpus(user, "camera")
    files = [(path.name, io.BytesIO(path.read_bytes())) for path in camera_photos]
    services.ingest_files(corpus=corpus, files=files, enqueue=False)
    job.encode_corpus(corpus_id=corpus.pk)
    corpus.refresh_from_db()
    result = search_image(corpus=corpus, image=camera_photos[2].read_bytes(), k=1)
    best = corpus.images.get(pk=result.hits[0].record_id)
    assert best.original_filename == camera_photos[2].name
    assert result.hits[0].score == pytest.approx(1.0, abs=1e-5)  # same decode, same vector
    assert get_encoder("histogram").decode_side == 256


def test_vectors_stored_before_the_preprocessing_change_are_encoded_again(user, settings):
    settings.CRIER_ENCODER = "histogram"
    corpus = make_corpus(user, "old vectors")
    # What the histogram's fingerprint was before PREPROCESSING_VERSION joined it.
    old = make_fingerprint(kind="histogram", version=1, bins=BINS, size=SIZE)
    histogram = get_encoder("histogram")
    assert histogram.fingerprint != old
    record = make_record(corpus, image_bytes(seed=12), status=ImageStatus.ENCODED)
    store_vectors(corpus, [record], np.zeros((1, histogram.dim)), fingerprint=old)
    outcome = job.encode_corpus(corpus_id=corpus.pk)
    stored = stored_vector(record)
    assert outcome.encoded == 1
    assert stored.fingerprint == histogram.fingerprint
    assert np.linalg.norm(np.frombuffer(stored.vector, dtype=np.float32)) == pytest.approx(1.0)
