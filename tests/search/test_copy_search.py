"""Copy search through the services and the API: a photo found inside a page, where it matches,
copies before look-alikes, and pictures without texture still searchable as similar."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.urls import reverse
from PIL import Image, ImageOps
from rest_framework.test import APIClient

from search import services
from search.copies import store
from search.encoding import job, model_inputs
from search.models import CopyFeatures
from tests.factories import ingested_corpus, photo_bytes

pytestmark = pytest.mark.django_db

PHOTO_BOX = (300, 200, 600, 500)  # where the astronaut sits on the 1000×800 page


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def page_with_astronaut() -> bytes:
    astronaut = Image.open(io.BytesIO(photo_bytes("astronaut.png"))).convert("RGB")
    page = Image.new("RGB", (1000, 800), (255, 255, 255))
    page.paste(astronaut.resize((300, 300)), PHOTO_BOX[:2])
    rocket = Image.open(io.BytesIO(photo_bytes("rocket.jpg"))).convert("RGB")
    page.paste(rocket.resize((250, 330)), (680, 200))
    return png(page)


@pytest.fixture
def copies(user, django_capture_on_commit_callbacks):
    astronaut = photo_bytes("astronaut.png", fmt="PNG", size=(512, 512))
    files = {
        "astronaut.png": astronaut,
        "page.png": page_with_astronaut(),
        "astronaut-mirrored.png": png(ImageOps.mirror(Image.open(io.BytesIO(astronaut)))),
        "coffee.png": photo_bytes("coffee.png", fmt="PNG"),
        "flat.png": png(Image.new("RGB", (64, 64), (200, 40, 40))),
    }
    return ingested_corpus(user, "copies", files, django_capture_on_commit_callbacks)


def test_encoding_stores_copy_features_for_every_image(copies):
    corpus, ids = copies
    rows = {row.image_id: row for row in CopyFeatures.objects.filter(corpus=corpus)}
    assert set(rows) == set(ids.values())
    assert rows[ids["page.png"]].boxes  # the photos on the page were found
    assert rows[ids["flat.png"]].keypoints == 0
    assert rows[ids["astronaut.png"]].keypoints > 100
    # An image stored before copy search (no row) gets one at the next run of the job.
    CopyFeatures.objects.filter(image_id=ids["coffee.png"]).delete()
    job.encode_corpus(corpus_id=corpus.pk)
    assert store.features_of([ids["coffee.png"]])[ids["coffee.png"]]


def test_search_by_file_finds_the_photo_inside_the_page_and_where(copies, user):
    corpus, _ = copies
    api = APIClient()
    api.force_authenticate(user)
    query = photo_bytes("astronaut.png", fmt="JPEG", size=(400, 400))
    response = api.post(
        reverse("api:search", args=[corpus.pk]),
        {"image": io.BytesIO(query), "k": 5},
        format="multipart",
    )
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    kinds = {r["filename"]: r["match"]["kind"] for r in results}
    assert kinds["page.png"] == kinds["astronaut.png"] == kinds["astronaut-mirrored.png"] == "copy"
    assert kinds["coffee.png"] == kinds["flat.png"] == "similar"
    # Copies first.
    assert [r["match"]["kind"] for r in results] == ["copy"] * 3 + ["similar"] * 2
    page = next(r for r in results if r["filename"] == "page.png")["match"]
    assert page["target_box"] == pytest.approx([0.3, 0.25, 0.6, 0.625], abs=0.02)
    assert page["query_box"] == pytest.approx([0, 0, 1, 1], abs=0.02)
    assert page["target_overlap"] == pytest.approx(0.3 * 0.375, abs=0.02)
    assert page["inliers"] >= 10 and len(page["transform"]) == 3
    mirrored = next(r for r in results if r["filename"] == "astronaut-mirrored.png")["match"]
    assert mirrored["mirrored"] is True


def test_more_like_this_of_the_page_finds_the_photo_on_it(copies):
    corpus, ids = copies
    result = services.search_similar(corpus=corpus, record_id=ids["page.png"], k=4)
    by_name = {hit.record.original_filename: hit for hit in result.hits}
    match = by_name["astronaut.png"].match
    assert match is not None and by_name["astronaut.png"].kind == "copy"
    assert match.query_box == pytest.approx((0.3, 0.25, 0.6, 0.625), abs=0.02)
    assert by_name["coffee.png"].kind == "similar"


def test_the_parts_index_follows_the_described_images(copies):
    from search.copies.parts_index import parts_index

    corpus, ids = copies
    index = services.require_index(corpus)
    args = (corpus, index.directory.name, index.meta["encoder_fingerprint"], index.meta["dim"])
    first = parts_index(*args)
    assert ids["page.png"] in set(first.owners.tolist())
    assert parts_index(*args) is first  # kept while nothing changed
    page = CopyFeatures.objects.get(image_id=ids["page.png"])
    CopyFeatures.objects.filter(pk=page.pk).delete()  # next search: a deleted image is gone
    assert ids["page.png"] not in set(parts_index(*args).owners.tolist())
    page.save(force_insert=True)  # and an image described since has joined
    assert ids["page.png"] in set(parts_index(*args).owners.tolist())


def test_a_flat_picture_is_still_searchable_as_similar(copies):
    corpus, ids = copies
    flat = png(Image.new("RGB", (32, 32), (200, 40, 40)))
    result = services.search_image(corpus=corpus, image=flat, k=5)
    assert len(result.hits) == 5 and all(hit.kind == "similar" for hit in result.hits)
    assert result.hits[0].record_id == ids["flat.png"]
    similar = services.search_similar(corpus=corpus, record_id=ids["flat.png"], k=3)
    assert all(hit.match is None for hit in similar.hits)


def test_duplicate_groups_tell_an_edited_copy_from_a_look_alike(copies, user):
    corpus, ids = copies
    api = APIClient()
    api.force_authenticate(user)
    url = reverse("api:duplicates", args=[corpus.pk])
    # The mirror image has the same colour histogram: alone in its group at 0.99.
    (group,) = api.get(url, {"threshold": 0.99}).json()["groups"]
    assert [image["image_id"] for image in group["images"]] == [
        ids["astronaut.png"], ids["astronaut-mirrored.png"]
    ]  # fmt: skip
    assert group["kind"] == "copy"
    assert "match" not in group["images"][0]
    assert group["images"][1]["match"]["kind"] == "copy"
    assert group["images"][1]["match"]["mirrored"] is True
    # At 0.9 the histogram also joins pictures that only share colours: similar.
    wide = api.get(url, {"threshold": 0.9}).json()["groups"]
    assert any(g["kind"] == "similar" for g in wide)


def test_copy_features_come_from_the_upload_checks_decode(user, wide_histogram, count_decodes):
    from tests.factories import image_bytes, ingest, make_corpus, model_input_path

    corpus = make_corpus(user, encoder=wide_histogram.name)  # encodes from model inputs
    photos = {f"{n}.jpg": image_bytes(seed=n, size=(1600, 1200), fmt="JPEG") for n in (1, 2, 3)}
    first, _, third = ingest(corpus, photos)
    assert len(count_decodes) == 3  # the upload check's, one per file
    # A model input written before copy search's picture joined it: the job decodes that one.
    pixels = np.load(model_input_path(third))["pixels"]
    model_inputs.write(third.file.storage, third.file.name, wide_histogram.fingerprint, pixels)
    count_decodes.clear()
    outcome = job.encode_corpus(corpus_id=corpus.pk)
    assert outcome.encoded == 3 and outcome.described == 3
    assert len(count_decodes) == 1  # the third's, for its copy data only
    assert CopyFeatures.objects.filter(corpus=corpus).count() == 3
    # Found on pictures of the same scale either way (the upload check's decode reduced, or
    # the job's own decode of the original).
    stored = store.features_of([first.pk, third.pk])
    assert stored[first.pk][0].width == stored[third.pk][0].width
    assert len(stored[first.pk][0]) > 50 and len(stored[third.pk][0]) > 50


def test_the_results_page_marks_copies_and_draws_where_they_match(client, user, copies):
    from django.core.files.uploadedfile import SimpleUploadedFile

    corpus, _ = copies
    client.force_login(user)
    query = SimpleUploadedFile("q.jpg", photo_bytes("astronaut.png", size=(400, 400)))
    response = client.post(reverse("search:results", args=[corpus.pk]), {"image": query})
    assert response.status_code == 200
    rows = {row.record.original_filename: row for row in response.context["rows"]}
    assert rows["page.png"].match is not None and rows["coffee.png"].match is None
    left, _, right, _ = rows["page.png"].match.target_box
    assert left == pytest.approx(0.3, abs=0.02) and right - left == pytest.approx(0.3, abs=0.02)
    html = response.content.decode()
    assert html.count('class="match-overlay"') == 3 and html.count(">Copy") == 3
    assert "Copy, mirrored" in html


def test_compare_two_images_or_an_upload_with_one(copies, user, other_user):
    corpus, ids = copies
    api = APIClient()
    api.force_authenticate(user)
    url = reverse("api:compare", args=[corpus.pk])
    body = api.post(
        url, {"image_id": ids["astronaut.png"], "other_id": ids["page.png"]}, format="json"
    ).json()
    assert body["image_id"] == ids["astronaut.png"] and body["other_id"] == ids["page.png"]
    assert body["match"]["kind"] == "copy"
    assert body["match"]["target_box"] == pytest.approx([0.3, 0.25, 0.6, 0.625], abs=0.02)
    assert body["other_thumbnail_url"].endswith(f"/images/{ids['page.png']}/thumbnail/")
    unrelated = api.post(
        url, {"image_id": ids["astronaut.png"], "other_id": ids["coffee.png"]}, format="json"
    )
    assert unrelated.json()["match"] == {"kind": "similar"}

    upload = api.post(
        reverse("api:compare-file", args=[corpus.pk, ids["page.png"]]),
        {"image": io.BytesIO(photo_bytes("astronaut.png", size=(300, 300)))},
        format="multipart",
    )
    assert upload.status_code == 200, upload.content
    assert upload.json()["image_id"] is None and upload.json()["match"]["kind"] == "copy"

    # Malformed or foreign requests get the usual JSON errors.
    missing = api.post(url, {"image_id": ids["astronaut.png"]}, format="json")
    assert missing.status_code == 400 and "other_id" in missing.json()["error"]["message"]
    assert (
        api.post(url, {"image_id": 10**6, "other_id": ids["page.png"]}, format="json").status_code
        == 404
    )
    not_a_picture = api.post(
        reverse("api:compare-file", args=[corpus.pk, ids["page.png"]]),
        {"image": io.BytesIO(b"not an image")},
        format="multipart",
    )
    assert not_a_picture.status_code == 400
    api.force_authenticate(other_user)
    foreign = api.post(
        url, {"image_id": ids["astronaut.png"], "other_id": ids["page.png"]}, format="json"
    )
    assert foreign.status_code == 404


def test_a_look_alike_seen_whole_outranks_a_chance_grid_window_match(monkeypatch):
    """The service's candidate scores: a match through one of the query's grid windows (in the
    live index or among the stored pictures' boxes) counts ``candidates.PART_PENALTY`` less, so
    a window a little more like another picture than the whole query is like its look-alike no
    longer outranks it; the query's picture boxes count in full."""
    from search.copies.candidates import PART_PENALTY
    from search.copies.parts_index import PartsIndex

    assert PART_PENALTY > 0.06
    look_alike, by_query_box, by_window, by_stored_box = 11, 12, 13, 14
    query, box_view, window = np.eye(3, dtype=np.float32)

    class Index:  # the live index, searched with the query, then its other views in order
        meta = {"dim": 3}
        directory = None

        def search(self, batch, n):
            assert np.array_equal(batch, [query, box_view, window])
            ids = np.array([[look_alike, -1], [by_query_box, -1], [by_window, look_alike]])
            scores = np.array([[0.8, 0], [0.78, 0], [0.86, 0.5]], dtype=np.float32)
            return ids, scores

    # The stored pictures' boxes: one is like the window.
    boxes = PartsIndex(owners=np.array([by_stored_box]), vectors=0.85 * window[np.newaxis])
    monkeypatch.setattr(services, "parts_index", lambda *a: boxes)
    search = services._views_searcher(
        None, Index(), np.stack([box_view, window]), np.array([False, True])
    )
    ids, scores = search(query, 4)

    assert ids.tolist() == [look_alike, by_query_box, by_window, by_stored_box]
    assert scores.tolist() == pytest.approx([0.8, 0.78, 0.86 - PART_PENALTY, 0.85 - PART_PENALTY])
