"""Near-duplicate groups: the service on planted vectors, the API and the page."""

from __future__ import annotations

import io
from urllib.parse import quote

import numpy as np
import pytest
from django.core.cache import cache
from django.urls import reverse
from PIL import Image, ImageOps
from rest_framework.test import APIClient

from corpora import services as corpus_services
from corpora.models import Visibility
from crier_site.errors import InvalidInput
from search.copies.duplicates import find_duplicates
from search.indices import build
from search.queries.params import DEFAULT_THRESHOLD, validate_threshold
from search.services import IndexNotReady
from tests.api_helpers import error_of
from tests.factories import (
    add_vector_records,
    index_of,
    indexed_vector_corpus,
    make_corpus,
    photo_bytes,
    unit_vectors,
)

pytestmark = pytest.mark.django_db

DIM = 64


@pytest.fixture(autouse=True)
def empty_report_cache():
    cache.clear()
    yield
    cache.clear()


def nudged(vector: np.ndarray, amount: float, seed: int) -> np.ndarray:
    noise = np.random.default_rng(seed).standard_normal(vector.shape).astype(np.float32)
    moved = vector + amount * noise / np.linalg.norm(noise)
    return moved / np.linalg.norm(moved)


def planted(n_unique: int) -> tuple[np.ndarray, dict[str, list[int]]]:
    """Random unit vectors (pairwise cosine far below 0.9 in 64-d) plus planted groups; returns
    the vectors and each group's row numbers."""
    vectors = list(unit_vectors(n_unique, seed=3, dim=DIM))
    groups = {"triple": [0], "pair": [5], "chain": [9]}
    for seed in (1, 2):  # two close copies of row 0
        groups["triple"].append(len(vectors))
        vectors.append(nudged(vectors[0], 0.2, seed))
    groups["pair"].append(len(vectors))
    vectors.append(nudged(vectors[5], 0.35, 7))
    # a chain: 9 ~ x ~ y, but 9 and y are less alike than the threshold
    x = nudged(vectors[9], 0.4, 11)
    y = nudged(x, 0.4, 12)
    groups["chain"] += [len(vectors), len(vectors) + 1]
    vectors += [x, y]
    return np.asarray(vectors, dtype=np.float32), groups


@pytest.mark.parametrize("ann_threshold", [20_000, 0])  # brute force, then tree + AH
def test_planted_groups_are_found_whole(user, settings, ann_threshold):
    settings.CRIER_ANN_THRESHOLD = ann_threshold
    vectors, rows = planted(1100 if ann_threshold == 0 else 60)
    corpus, records = indexed_vector_corpus(user, vectors)
    scores = vectors @ vectors.T
    chain = rows["chain"]
    assert (
        scores[chain[0], chain[2]]
        < 0.9
        <= min(scores[chain[0], chain[1]], scores[chain[1], chain[2]])
    )

    report = find_duplicates(corpus=corpus, threshold=0.9)

    expected = {name: sorted(records[i].pk for i in members) for name, members in rows.items()}
    assert sorted(g.record_ids for g in report.groups) == sorted(expected.values())
    assert report.compared == len(vectors) and report.index_version == index_of(corpus).version
    best = [g.score for g in report.groups]
    assert best == sorted(best, reverse=True) and min(best) >= 0.9
    triple = next(g for g in report.groups if g.record_ids == expected["triple"])
    pairs = [scores[a, b] for a in rows["triple"] for b in rows["triple"] if a < b]
    assert triple.score == pytest.approx(max(pairs), abs=1e-4)


def test_threshold_decides_and_deleted_images_drop_out(user):
    vectors, rows = planted(40)
    corpus, records = indexed_vector_corpus(user, vectors)
    loose = find_duplicates(corpus=corpus, threshold=0.9)
    strict = find_duplicates(corpus=corpus, threshold=0.99)
    assert len(loose.groups) == 3 and strict.groups == []

    gone = records[rows["pair"][1]]
    gone.delete()  # the index still holds it until the next build; the report is cached
    again = find_duplicates(corpus=corpus, threshold=0.9)
    assert again.cached and again.took_ms == loose.took_ms
    groups = [g.record_ids for g in again.groups]
    assert len(groups) == 2 and all(gone.pk not in ids for ids in groups)


def test_reports_are_cached_until_the_index_changes(user):
    vectors, _rows = planted(40)
    corpus, records = indexed_vector_corpus(user, vectors)
    first = find_duplicates(corpus=corpus, threshold=0.9)
    second = find_duplicates(corpus=corpus, threshold=0.9)
    assert not first.cached and second.cached and second.groups == first.groups
    assert not find_duplicates(corpus=corpus, threshold=0.95).cached  # another threshold

    copy = add_vector_records(corpus, nudged(vectors[20], 0.2, 5)[None, :])[0]
    build.update_index(corpus=corpus)
    corpus.refresh_from_db()
    fresh = find_duplicates(corpus=corpus, threshold=0.9)
    assert not fresh.cached and fresh.index_version != first.index_version
    assert sorted([records[20].pk, copy.pk]) in [g.record_ids for g in fresh.groups]


@pytest.mark.parametrize("threshold", [0.2, 1.5, "often", "nan"])
def test_threshold_is_validated_at_the_edge(threshold):
    with pytest.raises(InvalidInput, match="threshold"):
        validate_threshold(threshold)


def test_an_empty_threshold_is_the_default():
    assert validate_threshold("") == validate_threshold(None) == DEFAULT_THRESHOLD
    assert validate_threshold("0.95") == 0.95


def test_no_index_yet_is_a_conflict(user):
    corpus = make_corpus(user)
    with pytest.raises(IndexNotReady):
        find_duplicates(corpus=corpus)


# --- API and page, on real images encoded by the histogram encoder ---------------------------


def mirrored(data: bytes) -> bytes:
    buffer = io.BytesIO()
    ImageOps.mirror(Image.open(io.BytesIO(data)).convert("RGB")).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def photos_corpus(user, django_capture_on_commit_callbacks):
    """coffee, its mirror image (the same colour histogram) and two unrelated photos."""
    coffee = photo_bytes("coffee.png")
    files = {
        "coffee.png": coffee,
        "coffee-mirrored.png": mirrored(coffee),
        "rocket.jpg": photo_bytes("rocket.jpg"),
        "moon.png": photo_bytes("moon.png"),
    }
    corpus = make_corpus(user, "photos", visibility=Visibility.PUBLIC)
    with django_capture_on_commit_callbacks(execute=True):
        report = corpus_services.ingest_files(
            corpus=corpus, files=[(name, io.BytesIO(data)) for name, data in files.items()]
        )
    corpus.refresh_from_db()
    return corpus, {record.original_filename: record.pk for record in report.accepted}


def test_api_lists_groups_with_links(user, photos_corpus):
    corpus, _ids = photos_corpus
    api = APIClient()
    api.force_authenticate(user)
    response = api.get(reverse("api:duplicates", args=[corpus.pk]), {"threshold": 0.95})
    assert response.status_code == 200
    body = response.json()
    assert body["threshold"] == 0.95 and body["compared"] == 4 and body["group_count"] == 1
    assert body["cached"] is False
    (group,) = body["groups"]
    assert [image["filename"] for image in group["images"]] == ["coffee.png", "coffee-mirrored.png"]
    assert group["score"] > 0.99
    assert api.get(group["images"][1]["file_url"]).status_code == 200


def test_api_errors_and_isolation(user, other_user, photos_corpus):
    corpus, _ = photos_corpus
    url = reverse("api:duplicates", args=[corpus.pk])
    api = APIClient()
    assert api.get(url).status_code == 200  # public: anyone may look
    bad = api.get(url, {"threshold": 2})
    assert bad.status_code == 400 and "threshold" in error_of(bad)["message"]

    corpus.visibility = Visibility.PRIVATE
    corpus.save()
    assert api.get(url).status_code == 404
    api.force_authenticate(other_user)
    assert api.get(url).status_code == 404

    empty = make_corpus(user, "empty")
    api.force_authenticate(user)
    not_ready = api.get(reverse("api:duplicates", args=[empty.pk]))
    assert not_ready.status_code == 409


def test_page_shows_groups_and_deleting_returns_to_it(client, user, photos_corpus):
    corpus, ids = photos_corpus
    client.force_login(user)
    page_url = reverse("search:duplicates", args=[corpus.pk]) + "?threshold=0.95"
    page = client.get(page_url)
    html = page.content.decode()
    assert page.status_code == 200
    assert "1 group of near-duplicates" in html and "coffee-mirrored.png" in html
    assert "rocket.jpg" not in html
    # Which copy to keep (issue 23): each copy's size, pixels, date taken and upload date.
    coffee = corpus.images.get(pk=ids["coffee.png"])
    assert html.count("<dt>Size</dt>") == 2 and html.count("<dt>Added</dt>") == 2
    assert f"<dd>{coffee.width} × {coffee.height}</dd>" in html
    assert "<dt>Taken</dt><dd>unknown</dd>" in html
    # Each image after the group's first opens the compare view with the first (issue 22).
    compare = reverse("search:compare", args=[corpus.pk])
    assert html.count(f"{compare}?a=") == 1
    assert f"{compare}?a={ids['coffee.png']}&amp;b={ids['coffee-mirrored.png']}" in html
    delete_url = reverse("corpora:image_delete", args=[corpus.pk, ids["coffee-mirrored.png"]])
    assert f"{delete_url}?next={quote(page_url, safe='')}" in html

    done = client.post(delete_url, {"next": page_url})
    assert done.status_code == 302 and done.url == page_url
    assert "No near-duplicates at this threshold." in client.get(page_url).content.decode()


def test_page_ignores_an_outside_next_and_reports_bad_thresholds(client, user, photos_corpus):
    corpus, ids = photos_corpus
    client.force_login(user)
    delete_url = reverse("corpora:image_delete", args=[corpus.pk, ids["moon.png"]])
    done = client.post(delete_url, {"next": "https://evil.example/"})
    assert done.url == reverse("corpora:detail", args=[corpus.pk])
    bad = client.get(reverse("search:duplicates", args=[corpus.pk]), {"threshold": "0.1"})
    assert bad.status_code == 400 and "between 0.5 and 1" in bad.content.decode()


def test_keep_the_first_and_delete_the_rest_of_a_group(client, user, photos_corpus):
    corpus, ids = photos_corpus
    client.force_login(user)
    page_url = reverse("search:duplicates", args=[corpus.pk]) + "?threshold=0.95"
    html = client.get(page_url).content.decode()
    assert "Keep “coffee.png”, delete the other 1" in html

    confirm_url = reverse("corpora:images_delete", args=[corpus.pk])
    confirm = client.get(confirm_url, {"ids": [ids["coffee-mirrored.png"]], "next": page_url})
    assert confirm.status_code == 200 and "Delete 1 image from" in confirm.content.decode()
    done = client.post(confirm_url, {"ids": [ids["coffee-mirrored.png"]], "next": page_url})
    assert done.status_code == 302 and done.url == page_url
    assert set(corpus.images.values_list("original_filename", flat=True)) == {
        "coffee.png",
        "rocket.jpg",
        "moon.png",
    }
    gone = client.post(confirm_url, {"ids": [ids["coffee-mirrored.png"]]})
    assert gone.status_code == 400 and "None of these images" in gone.content.decode()
