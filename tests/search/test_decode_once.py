"""One decode per upload, upload check to stored vector: the encoding job encodes from the
model input the upload check left (search.encoding.model_inputs) and deletes it; without one
(another encoder, a re-encode, an import of old files) it decodes the original, to the same
vector. Copy search's data (docs/copies.md) comes from the same decode either way."""

from __future__ import annotations

import numpy as np
import pytest

from corpora.models import ImageStatus
from search.encoders import get_encoder, registry
from search.encoding import job, model_inputs
from search.encoding.preprocessing import open_image
from tests.factories import image_bytes, ingest, make_corpus, model_input_path

pytestmark = pytest.mark.django_db


def embeddings(corpus) -> dict[str, bytes]:
    rows = corpus.images.values_list("original_filename", "status", "vectors__vector")
    assert all(status == ImageStatus.ENCODED for _, status, _ in rows)
    return {name: bytes(vector) for name, _, vector in rows}


PHOTOS = {f"{seed}.jpg": image_bytes(seed=seed, size=(900, 700), fmt="JPEG") for seed in (1, 2)}


def test_the_job_encodes_from_the_upload_checks_decode_and_deletes_the_inputs(
    user, wide_histogram, count_decodes
):
    corpus = make_corpus(user, encoder=wide_histogram.name)
    records = ingest(corpus, PHOTOS)
    assert len(count_decodes) == len(PHOTOS)  # the upload check: one decode per file
    assert all(model_input_path(record).exists() for record in records)

    count_decodes.clear()
    outcome = job.encode_corpus(corpus_id=corpus.pk)
    assert outcome.encoded == len(PHOTOS) and count_decodes == []  # none in the job
    assert not any(model_input_path(record).exists() for record in records)
    from_inputs = embeddings(corpus)

    # The same files encoded the old way, each decoded by the job: the very same vectors.
    direct = wide_histogram.encode(list(PHOTOS.values()))
    for name, vector in zip(PHOTOS, direct, strict=True):
        assert from_inputs[name] == vector.astype(np.float32).tobytes()


def test_without_a_usable_model_input_the_job_decodes_the_original(
    user, wide_histogram, count_decodes
):
    corpus = make_corpus(user, encoder=wide_histogram.name)
    missing, stale, damaged = ingest(corpus, {**PHOTOS, "3.png": image_bytes(seed=3)})
    model_input_path(missing).unlink()
    model_inputs.write(  # made for another version of the encoder
        stale.file.storage, stale.file.name, "an-old-fingerprint", np.zeros((160, 160, 3), np.uint8)
    )
    model_input_path(damaged).write_bytes(b"garbage")
    count_decodes.clear()
    outcome = job.encode_corpus(corpus_id=corpus.pk)
    assert outcome.encoded == 3 and len(count_decodes) == 3
    assert not model_input_path(stale).exists() and not model_input_path(damaged).exists()
    direct = wide_histogram.encode(list(PHOTOS.values()))
    stored = embeddings(corpus)
    for name, vector in zip(PHOTOS, direct, strict=True):
        assert stored[name] == vector.astype(np.float32).tobytes()


def test_a_corpus_that_changed_encoder_ignores_the_inputs_made_for_the_old_one(
    user, wide_histogram, count_decodes
):
    corpus = make_corpus(user, encoder=wide_histogram.name)
    records = ingest(corpus, PHOTOS)
    corpus.encoder = "histogram"  # before the job ran
    corpus.save(update_fields=["encoder"])
    count_decodes.clear()
    job.encode_corpus(corpus_id=corpus.pk)
    assert len(count_decodes) == len(PHOTOS)
    assert not any(model_input_path(record).exists() for record in records)
    histogram = get_encoder("histogram")
    direct = histogram.encode(list(PHOTOS.values()))
    stored = embeddings(corpus)
    for name, vector in zip(PHOTOS, direct, strict=True):
        assert stored[name] == vector.astype(np.float32).tobytes()


def test_flip_averaged_encoders_share_their_bases_inputs_under_their_own_fingerprint(
    wide_histogram,
):
    recipe = registry.model_input_recipe("wide-histogram+flip")
    flip = get_encoder("wide-histogram+flip")
    assert recipe.fingerprint == flip.fingerprint != wide_histogram.fingerprint
    assert recipe.decode_side == flip.decode_side
    picture = open_image(PHOTOS["1.jpg"], min_side=flip.decode_side)
    assert np.array_equal(recipe.picture(picture), flip.model_pixels(picture))
    assert np.array_equal(flip.input_from_pixels(recipe.picture(picture)), flip.preprocess(picture))


@pytest.mark.slow
def test_efficientnet_lite0_vectors_are_the_same_from_the_upload_checks_decode(
    user, camera_photos, count_decodes
):
    """On 12-MP camera photos (one stored sideways), with the real encoder: the recipe the web
    process builds from the prepared model's manifest matches the encoder the job loads, and
    the vectors from the model inputs equal those from decoding the originals."""
    name = "efficientnet-lite0"
    recipe = registry.model_input_recipe(name)  # before the encoder is loaded: from facts
    encoder = get_encoder(name)
    assert recipe.fingerprint == encoder.fingerprint
    assert recipe.decode_side == encoder.decode_side
    assert encoder.model_input_recipe().fingerprint == recipe.fingerprint

    corpus = make_corpus(user, encoder=name)
    files = {path.name: path.read_bytes() for path in camera_photos}
    records = ingest(corpus, files)
    for record, data in zip(records, files.values(), strict=True):
        pixels = job.stored_model_input(encoder, record.file.storage, record.file.name)
        direct = encoder.preprocess(open_image(data, min_side=encoder.decode_side))
        assert np.array_equal(encoder.input_from_pixels(pixels), direct)

    count_decodes.clear()
    job.encode_corpus(corpus_id=corpus.pk)
    assert count_decodes == []
    stored = embeddings(corpus)
    direct = encoder.encode(list(files.values()))
    for name, vector in zip(files, direct, strict=True):
        assert stored[name] == vector.astype(np.float32).tobytes()
