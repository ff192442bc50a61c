"""Candidates from the visual words (docs/copies.md "Candidates from the visual words"): the
vocabulary, each image's stored words, the inverted index, and a copy the CNN does not rank
high found through them by the API."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.urls import reverse
from PIL import Image
from rest_framework.test import APIClient

from search import services
from search.copies import local, store
from search.copies import words as visual_words
from search.copies.candidates import to_verify
from search.copies.words_index import build, words_index
from search.models import CopyFeatures
from search.queries.params import Page
from tests.factories import photo_bytes
from tests.search.test_copy_search import copies  # noqa: F401  (the fixture)

SIZE = 64  # a small vocabulary for the index's unit tests


def test_the_vocabulary_names_each_descriptor_by_its_nearest_centre():
    vocabulary = visual_words.vocabulary()
    assert vocabulary.centres.shape == (1024, 128) and len(vocabulary.version) == 12
    rng = np.random.default_rng(0)
    descriptors = rng.integers(0, 16, (300, 128)).astype(np.uint8)
    nearest = (
        ((descriptors[:, None, :].astype(np.float32) - vocabulary.centres[None]) ** 2)
        .sum(axis=2)
        .argmin(axis=1)
    )
    assigned = visual_words.assign(descriptors)
    assert assigned.dtype == np.uint16
    # Equal distances aside (float32 rounding decides those), the same word.
    assert np.mean(assigned == nearest) > 0.99
    assert len(visual_words.assign(np.zeros((0, 128), np.uint8))) == 0


def test_words_pack_and_unpack():
    sets = [np.array([3, 1, 1023], np.uint16), np.zeros(0, np.uint16), np.array([7], np.uint16)]
    back = visual_words.unpack(visual_words.pack(sets))
    assert [w.tolist() for w in back] == [[3, 1, 1023], [], [7]]
    assert visual_words.unpack(visual_words.pack([])) == []


def _index(rows: dict[int, list[list[int]]]):
    return build(
        ((image, [np.asarray(s, np.uint16) for s in sets]) for image, sets in sorted(rows.items())),
        SIZE,
    )


def test_an_image_scores_its_best_feature_set_by_tf_idf_cosine():
    common = list(range(40, 60))  # in every set: idf ~0, they count for nothing
    rows = {
        1: [[*common, 1, 2, 3, 4, 5, 6]],  # the query's words, all of them
        2: [[*common, 1, 2, 3, 20, 21, 22]],  # half of them
        3: [[*common, 30, 31, 32], [*common, 1, 2, 3, 4, 5, 7]],  # a composite: its box set
        4: [[*common, 30, 33, 34]],
        5: [[]],  # no features
    }
    index = _index(rows)
    assert index.postings.dtype == np.int32 and index.counts.dtype == np.uint8
    assert index.owners.tolist() == [1, 2, 3, 3, 4, 5]
    found = index.search([np.asarray([*common, 1, 2, 3, 4, 5, 6])], 10)
    assert list(found)[:3] == [1, 3, 2]  # the composite by its box set, before image 2
    assert found[1] == pytest.approx(1.0, abs=1e-5)
    assert 4 not in found and 5 not in found  # nothing but common words shared
    assert list(index.search([np.asarray([1, 2, 3, 4, 5, 6])], 1)) == [1]


def test_the_index_scores_as_dense_tf_idf_vectors_do():
    rng = np.random.default_rng(1)
    rows = {
        image: [rng.integers(0, SIZE, rng.integers(0, 80)).tolist() for _ in range(1 + image % 3)]
        for image in range(1, 60)
    }
    index = _index(rows)
    sets = [(image, s) for image in sorted(rows) for s in rows[image]]
    counts = np.stack([np.bincount(np.asarray(s, int), minlength=SIZE) for _, s in sets])
    idf = np.log(len(sets) / (1 + (counts > 0).sum(axis=0)))
    tfidf = counts * idf
    tfidf /= np.maximum(np.linalg.norm(tfidf, axis=1, keepdims=True), 1e-12)
    query = [rng.integers(0, SIZE, 50), rng.integers(0, SIZE, 30)]
    q = np.stack([np.bincount(w, minlength=SIZE) for w in query]) * idf
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    best_set = (tfidf @ q.T).max(axis=1)
    expected: dict[int, float] = {}
    for (image, _), score in zip(sets, best_set, strict=True):
        expected[image] = max(score, expected.get(image, -1.0))
    found = index.search(query, 10)
    top = sorted(expected, key=lambda i: (-expected[i], i))[:10]
    assert list(found) == top
    assert list(found.values()) == pytest.approx([expected[i] for i in top], abs=1e-5)


def test_an_empty_index_and_an_empty_query_find_nothing():
    assert _index({}).search([np.arange(5)], 3) == {}
    assert _index({1: [[1, 2]]}).search([np.zeros(0, int)], 3) == {}


def test_what_to_verify_the_cnns_first_then_the_words_first_not_among_them():
    assert to_verify([5, 6, 7, 8], [7, 9, 5, 10, 11], 3, 2) == [5, 6, 7, 9, 10]
    assert to_verify([5, 6], [5, 6], 3, 2) == [5, 6]
    assert to_verify([5, 6, 7], [8, 9], 3, 0) == [5, 6, 7]


@pytest.mark.django_db
def test_encoding_stores_each_images_words_and_old_rows_get_theirs(copies):  # noqa: F811
    corpus, ids = copies
    page = CopyFeatures.objects.get(image_id=ids["page.png"])
    assert page.words_version == visual_words.version()
    sets = local.unpack_sets(bytes(page.local_features))
    stored = visual_words.unpack(bytes(page.words))
    assert [len(w) for w in stored] == [len(s) for s in sets] and len(stored) >= 2
    # A row described before the words (or with another vocabulary) gets them from its stored
    # descriptors, no picture decoded, the same words.
    CopyFeatures.objects.filter(corpus=corpus).update(words=None, words_version="")
    assert store.incomplete(corpus)
    assert words_index(corpus, "v").owners.size == 0
    assert store.add_words(corpus=corpus) == len(ids)
    assert not store.incomplete(corpus)
    again = CopyFeatures.objects.get(image_id=ids["page.png"])
    assert bytes(again.words) == bytes(page.words)
    assert ids["page.png"] in set(words_index(corpus, "v").owners.tolist())


@pytest.mark.django_db
def test_a_copy_the_cnn_ranks_low_is_found_by_its_words(copies, user, settings):  # noqa: F811
    """The query (the astronaut) is verified against the CNN's first hit only; the page that
    holds it small, beside another photo, is found as a copy through the visual words alone."""
    corpus, _ids = copies
    api = APIClient()
    api.force_authenticate(user)
    query = photo_bytes("astronaut.png", fmt="JPEG", size=(400, 400))
    settings.CRIER_COPY_VERIFY_DEPTH = 1

    def search(words_depth: int) -> list[dict]:
        settings.CRIER_COPY_WORDS_DEPTH = words_depth
        response = api.post(
            reverse("api:search", args=[corpus.pk]),
            {"image": io.BytesIO(query), "k": 5},
            format="multipart",
        )
        assert response.status_code == 200, response.content
        return response.json()["results"]

    without = search(0)
    kinds = {r["filename"]: r["match"]["kind"] for r in without}
    assert without[0]["match"]["kind"] == "copy"  # the CNN's first: the photo or its mirror
    assert [r["match"]["kind"] for r in without[1:]] == ["similar"] * 4
    assert kinds["page.png"] == "similar"

    results = search(4)
    kinds = {r["filename"]: r["match"]["kind"] for r in results}
    assert kinds["page.png"] == "copy" and kinds["coffee.png"] == kinds["flat.png"] == "similar"
    # The CNN's copies first, then the words'.
    assert results[0]["image_id"] == without[0]["image_id"]
    order = [r["match"]["kind"] for r in results]
    assert order == sorted(order)  # copies before look-alikes ("copy" < "similar")
    page = next(r for r in results if r["filename"] == "page.png")
    assert page["match"]["target_box"] == pytest.approx([0.3, 0.25, 0.6, 0.625], abs=0.02)
    # Its score is its similarity to the query, as in the ranking it came from.
    by_name = {r["filename"]: r["score"] for r in without}
    assert page["score"] == pytest.approx(by_name["page.png"], abs=1e-4)
    assert len({r["image_id"] for r in results}) == 5
    # Pages of one: the same ranking, whether the CNN's first hits held the page or not.
    paged = []
    for offset in range(5):
        response = api.post(
            reverse("api:search", args=[corpus.pk]),
            {"image": io.BytesIO(query), "k": 1, "offset": offset},
            format="multipart",
        )
        paged += response.json()["results"]
    assert [r["image_id"] for r in paged] == [r["image_id"] for r in results]
    assert [r["score"] for r in paged] == pytest.approx([r["score"] for r in results], abs=1e-4)


@pytest.mark.django_db
def test_more_like_this_finds_copies_by_the_stored_words(copies, settings):  # noqa: F811
    corpus, ids = copies
    settings.CRIER_COPY_VERIFY_DEPTH = 1
    settings.CRIER_COPY_WORDS_DEPTH = 4
    result = services.search_similar(corpus=corpus, record_id=ids["page.png"], k=4)
    kinds = {hit.record.original_filename: hit.kind for hit in result.hits}
    assert kinds["astronaut.png"] == "copy"
    assert ids["page.png"] not in {hit.record_id for hit in result.hits}  # itself excluded
    # Pages of one ranking: the same copies first, no hit twice.
    first = services.search_similar(corpus=corpus, record_id=ids["page.png"], k=2)
    second = services.search_similar(
        corpus=corpus, record_id=ids["page.png"], page=Page(k=2, offset=2)
    )
    paged = [hit.record_id for hit in first.hits + second.hits]
    assert paged == [hit.record_id for hit in result.hits]


@pytest.mark.django_db
def test_a_flat_query_has_no_words_and_is_still_searchable(copies, settings):  # noqa: F811
    corpus, ids = copies
    settings.CRIER_COPY_WORDS_DEPTH = 4
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 40, 40)).save(buffer, "PNG")
    result = services.search_image(corpus=corpus, image=buffer.getvalue(), k=3)
    assert result.hits[0].record_id == ids["flat.png"]
    assert all(hit.kind == "similar" for hit in result.hits)
