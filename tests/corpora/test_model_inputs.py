"""Model inputs made at upload (search.encoding.model_inputs, corpora.preparation): the upload
check's one decode also gives the encoder's pixels, written atomically beside the original, and they
are exactly what the encoding job would make from the original. Deleted with the image, kept
by the orphan sweep only while their image waits to be encoded."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from corpora import cleanup, preparation, services, thumbnails, trash
from corpora.models import ImageRecord, ImageStatus
from search.encoding import model_inputs
from search.encoding.job import stored_model_input
from search.encoding.preprocessing import open_image
from tests.factories import image_bytes, ingest, make_corpus, model_input_path

pytestmark = pytest.mark.django_db


def photos(*seeds: int) -> dict[str, bytes]:
    return {f"{seed}.png": image_bytes(seed=seed, size=(800, 600)) for seed in seeds}


def test_an_upload_leaves_exactly_the_jobs_input_beside_the_original(
    user, wide_histogram, camera_photos
):
    corpus = make_corpus(user, encoder=wide_histogram.name)
    photos = {path.name: path.read_bytes() for path in camera_photos}  # one is EXIF-rotated
    photos["small.png"] = image_bytes(seed=3, size=(500, 400))
    for record, data in zip(ingest(corpus, photos), photos.values(), strict=True):
        path = model_input_path(record)
        assert path.parent == Path(record.file.path).parent
        assert path.name == Path(record.file.name).stem + ".input.npz"
        pixels = stored_model_input(wide_histogram, record.file.storage, record.file.name)
        direct = wide_histogram.preprocess(open_image(data, min_side=wide_histogram.decode_side))
        assert np.array_equal(wide_histogram.input_from_pixels(pixels), direct)
    assert not list(Path(record.file.path).parent.glob("*.tmp"))


def test_uploads_are_decoded_at_the_encoders_scale_only_when_a_thumbnail_fits_in_it(
    wide_histogram,
):
    plan = preparation.plan_for(wide_histogram.name)
    assert plan.decode_side == wide_histogram.decode_side == 320 >= thumbnails.SIDE
    assert plan.companion.recipe.fingerprint == wide_histogram.fingerprint
    # The colour histogram decodes at 256 px: too small for the 320-px thumbnail, so uploads
    # are decoded at the thumbnail's scale and its job decodes the original itself.
    assert preparation.plan_for("histogram") == preparation.UploadPlan(thumbnails.DECODE_SIDE)
    # An encoder that cannot be described without loading it gets no model inputs.
    assert preparation.plan_for("https://example.org/model/1").companion is None


def test_no_model_input_without_a_recipe(user):
    corpus = make_corpus(user)  # the colour histogram
    (record,) = ingest(corpus, photos(4))
    assert not model_input_path(record).exists()


def test_read_refuses_other_encoders_other_shapes_and_damaged_files(user, wide_histogram):
    corpus = make_corpus(user, encoder=wide_histogram.name)
    (record,) = ingest(corpus, photos(5))
    storage, name, size = record.file.storage, record.file.name, wide_histogram.input_size

    def read(fingerprint=wide_histogram.fingerprint, shape=(size, size, 3)):
        return model_inputs.read(storage, name, fingerprint=fingerprint, shape=shape)

    assert read() is not None
    assert read(fingerprint="another") is None
    assert read(shape=(224, 224, 3)) is None
    model_input_path(record).write_bytes(b"PK\x03\x04 not a whole archive")
    assert read() is None
    model_inputs.delete(storage, name)
    assert read() is None
    model_inputs.delete(storage, name)  # already gone: no error


def test_a_failed_write_leaves_no_file(user, wide_histogram, monkeypatch, settings):
    corpus = make_corpus(user, encoder=wide_histogram.name)
    (record,) = ingest(corpus, photos(6))
    model_inputs.delete(record.file.storage, record.file.name)

    def broken_savez(handle, **arrays):
        handle.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(model_inputs.np, "savez", broken_savez)
    with pytest.raises(OSError):
        model_inputs.write(
            record.file.storage, record.file.name, "f", np.zeros((2, 2, 3), np.uint8)
        )
    assert not model_input_path(record).exists()
    assert not list(Path(record.file.path).parent.glob("*.tmp"))


def test_the_model_input_goes_with_its_image(
    user, wide_histogram, django_capture_on_commit_callbacks
):
    corpus = make_corpus(user, encoder=wide_histogram.name)
    first, second = ingest(corpus, photos(7, 8))
    assert model_input_path(first).exists() and model_input_path(second).exists()
    with django_capture_on_commit_callbacks(execute=True):
        services.delete_corpus(corpus=corpus)  # to the trash: everything stays
    assert model_input_path(first).exists() and Path(first.file.path).exists()
    with django_capture_on_commit_callbacks(execute=True):
        trash.purge_corpus(corpus=corpus)
    for record in (first, second):
        assert not model_input_path(record).exists() and not Path(record.file.path).exists()

    corpus = make_corpus(user, "second", encoder=wide_histogram.name)
    first, second = ingest(corpus, photos(7, 8))
    with django_capture_on_commit_callbacks(execute=True):  # tasks run inline in tests
        services.delete_images(corpus=corpus, image_ids=[first.pk])
        trash.purge_images(records=ImageRecord.all_objects.filter(pk=first.pk))
    assert not model_input_path(first).exists() and not Path(first.file.path).exists()
    # The re-index it asked for encoded the other image, from its model input, then dropped it.
    second.refresh_from_db()
    assert second.status == ImageStatus.ENCODED and not model_input_path(second).exists()


def test_the_sweep_keeps_inputs_of_pending_images_only(user, wide_histogram):
    corpus = make_corpus(user, encoder=wide_histogram.name)
    pending, encoded = ingest(corpus, photos(9, 10))
    encoded.status = ImageStatus.ENCODED  # its job crashed before deleting the input
    encoded.save(update_fields=["status"])
    leftover = Path(str(model_input_path(pending)) + ".0123.tmp")  # a write that crashed
    leftover.write_bytes(b"x")
    an_hour_ago = os.stat(leftover).st_mtime - 2 * cleanup.ORPHAN_GRACE_SECONDS
    for path in (model_input_path(pending), model_input_path(encoded), leftover):
        os.utime(path, (an_hour_ago, an_hour_ago))
    removed = cleanup.sweep_orphan_files()
    assert set(removed) == {model_input_path(encoded), leftover}
    assert model_input_path(pending).exists()
