"""The compare view (page and API): is one picture a copy of another, and where — two images
of a corpus, or an uploaded picture against one stored; and the results page's split into
copies and similar pictures, each copy with its matched region drawn on both pictures."""

from __future__ import annotations

import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image
from rest_framework.test import APIClient

from tests.factories import ingested_corpus, make_corpus, photo_bytes

pytestmark = pytest.mark.django_db

CELL = 256  # the astronaut is the top-right cell of a 512×512 collage


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def collage() -> bytes:
    """A 2×2 collage: the astronaut top right, three unrelated pictures in the other cells."""
    out = Image.new("RGB", (2 * CELL, 2 * CELL))
    cells = ["coffee.png", "astronaut.png", "rocket.jpg", "chelsea.png"]
    for n, name in enumerate(cells):
        picture = Image.open(io.BytesIO(photo_bytes(name, fmt="PNG", size=(CELL, CELL))))
        out.paste(picture, ((n % 2) * CELL, (n // 2) * CELL))
    return png(out)


@pytest.fixture
def corpus(user, django_capture_on_commit_callbacks):
    files = {
        "astronaut.png": photo_bytes("astronaut.png", fmt="PNG", size=(400, 400)),
        "collage.png": collage(),
        "camera.png": photo_bytes("camera.png", fmt="PNG"),
        "flat.png": png(Image.new("RGB", (64, 64), (200, 40, 40))),
    }
    return ingested_corpus(user, "compare", files, django_capture_on_commit_callbacks)


def api_for(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def assert_collage_match(match: dict) -> None:
    assert match["kind"] == "copy"
    left, top, right, bottom = match["target_box"]  # the top-right cell
    assert (left, top, right, bottom) == pytest.approx((0.5, 0, 1, 0.5), abs=0.05)
    assert match["query_box"] == pytest.approx([0, 0, 1, 1], abs=0.05)
    assert match["query_overlap"] == pytest.approx(1, abs=0.1)
    assert match["target_overlap"] == pytest.approx(0.25, abs=0.05)
    assert match["inliers"] >= 10 and len(match["transform"]) == 3


def compare(api: APIClient, corpus_id: int, image_id, other_id):
    return api.post(
        reverse("api:compare", args=[corpus_id]),
        {"image_id": image_id, "other_id": other_id},
        format="json",
    )


def test_api_compares_two_images_with_both_sizes_and_links(corpus, user):
    corpus, ids = corpus
    api = api_for(user)
    response = compare(api, corpus.pk, ids["astronaut.png"], ids["collage.png"])
    assert response.status_code == 200, response.content
    body = response.json()
    assert_collage_match(body["match"])
    assert (body["image_width"], body["image_height"]) == (400, 400)
    assert (body["other_width"], body["other_height"]) == (512, 512)
    assert body["image_thumbnail_url"].endswith(f"/images/{ids['astronaut.png']}/thumbnail/")
    assert body["image_url"].endswith(f"/images/{ids['astronaut.png']}/")
    # The other way round the boxes swap places.
    back = compare(api, corpus.pk, ids["collage.png"], ids["astronaut.png"]).json()
    assert back["match"]["query_box"] == pytest.approx([0.5, 0, 1, 0.5], abs=0.05)
    flat = compare(api, corpus.pk, ids["flat.png"], ids["astronaut.png"]).json()
    assert flat["match"] == {"kind": "similar"}  # too little texture: never a copy


def test_api_compares_an_upload_with_a_stored_image(corpus, user):
    corpus, ids = corpus
    query = photo_bytes("astronaut.png", fmt="JPEG", size=(300, 300))
    response = api_for(user).post(
        reverse("api:compare-file", args=[corpus.pk, ids["collage.png"]]),
        {"image": io.BytesIO(query)},
        format="multipart",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert_collage_match(body["match"])
    assert body["image_id"] is body["image_url"] is body["image_width"] is None
    assert body["other_width"] == 512


@pytest.mark.parametrize(
    "body",
    [{}, {"image_id": 1}, {"image_id": "x", "other_id": 1}, {"image_id": 0, "other_id": 1},
     {"image_id": 1, "other_id": -2}, {"image_id": 1, "other_id": 2**63}],
)  # fmt: skip
def test_malformed_compare_requests_get_a_400(corpus, user, body):
    corpus, _ = corpus
    response = api_for(user).post(reverse("api:compare", args=[corpus.pk]), body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"]


def test_an_empty_corpus_is_a_409_not_a_missing_one(user):
    """The API fuzzer's created-resource check reads a 404 right after creating a corpus as the
    corpus missing: a corpus with no image yet says so as a state (409)."""
    empty = make_corpus(user)
    response = compare(api_for(user), empty.pk, 1, 2)
    assert response.status_code == 409, response.content
    assert response.json()["error"]["message"] == "This corpus has no images yet."


def test_other_users_private_corpora_get_a_404_uploads_too(corpus, other_user):
    corpus, ids = corpus
    upload = api_for(other_user).post(
        reverse("api:compare-file", args=[corpus.pk, ids["collage.png"]]),
        {"image": io.BytesIO(b"x")},
        format="multipart",
    )
    assert upload.status_code == 404 and upload.json()["error"]["code"]


def test_bad_uploads_get_the_image_gates_answer(corpus, user, settings):
    corpus, ids = corpus
    url = reverse("api:compare-file", args=[corpus.pk, ids["collage.png"]])
    api = api_for(user)
    no_image = api.post(url, {}, format="multipart")
    assert no_image.status_code == 400
    unknown = api.post(
        reverse("api:compare-file", args=[corpus.pk, 10**6]),
        {"image": io.BytesIO(photo_bytes("astronaut.png"))},
        format="multipart",
    )
    assert unknown.status_code == 404 and unknown.json()["error"]["code"]
    settings.CRIER_MAX_UPLOAD_BYTES = 1000
    big = api.post(url, {"image": io.BytesIO(photo_bytes("astronaut.png"))}, format="multipart")
    assert big.status_code == 413 and big.json()["error"]["code"]


def rect(html: str, which: int = 0) -> tuple[float, ...]:
    """The n-th matched box drawn on the page, as fractions."""
    boxes = re.findall(r'data-match-box="([^"]+)"', html)
    return tuple(float(v) for v in boxes[which].split(","))


def test_the_compare_page_draws_the_region_on_both(client, corpus, user):
    corpus, ids = corpus
    client.force_login(user)
    url = reverse("search:compare", args=[corpus.pk])
    response = client.get(url, {"a": ids["astronaut.png"], "b": ids["collage.png"]})
    assert response.status_code == 200
    html = response.content.decode()
    assert "A copy" in html and "25% of “collage.png”" in html
    assert rect(html, 0) == pytest.approx((0, 0, 1, 1), abs=0.05)  # on a, the query
    assert rect(html, 1) == pytest.approx((0.5, 0, 1, 0.5), abs=0.05)  # on b
    assert " style=" not in html.split("<main", 1)[1]  # the CSP refuses inline styles
    not_a_copy = client.get(url, {"a": ids["astronaut.png"], "b": ids["camera.png"]})
    assert "Not a copy" in not_a_copy.content.decode()
    assert "data-match-box" not in not_a_copy.content.decode()
    assert client.get(url, {"a": "x", "b": "1"}).status_code == 400
    assert client.get(url, {"a": ids["astronaut.png"], "b": 10**9}).status_code == 404


def test_results_split_copies_from_similar_pictures(client, corpus, user):
    corpus, _ = corpus
    client.force_login(user)
    query = SimpleUploadedFile("q.jpg", photo_bytes("astronaut.png", size=(300, 300)))
    response = client.post(reverse("search:results", args=[corpus.pk]), {"image": query})
    assert response.status_code == 200
    copies = [row.record.original_filename for row in response.context["copy_rows"]]
    similar = [row.record.original_filename for row in response.context["similar_rows"]]
    assert sorted(copies) == ["astronaut.png", "collage.png"]
    assert sorted(similar) == ["camera.png", "flat.png"]
    html = response.content.decode()
    copies_html, similar_html = html.split('data-kind-section="similar"')
    assert "Copies of this picture" in copies_html and "Similar pictures" in similar_html
    assert 'id="query-picture"' in html
    # Each copy: its box on the tile (an overlay) and on the query (a strip), as fractions.
    overlay = re.search(r'collage\.png.*?data-match-box="([^"]+)"', copies_html, re.S)
    box = tuple(float(v) for v in overlay.group(1).split(","))
    assert box == pytest.approx((0.5, 0, 1, 0.5), abs=0.05)
    assert copies_html.count('class="match-query"') == 2
    assert "data-match-box" not in similar_html


def test_more_like_this_links_each_copy_to_the_compare_page(client, corpus, user):
    corpus, ids = corpus
    client.force_login(user)
    response = client.get(reverse("search:similar", args=[corpus.pk, ids["astronaut.png"]]))
    html = response.content.decode()
    assert f"compare/?a={ids['astronaut.png']}&amp;b={ids['collage.png']}" in html
    assert 'data-kind-section="copy"' in html and "Copies of this picture" in html


def test_a_search_without_copies_has_no_copies_section(client, corpus, user):
    corpus, ids = corpus
    client.force_login(user)
    response = client.get(reverse("search:similar", args=[corpus.pk, ids["camera.png"]]))
    html = response.content.decode()
    assert re.search(r'data-kind-section="copy"\s+hidden', html)
    assert "match-query" not in html


def test_the_compare_page_takes_an_uploaded_picture(client, corpus, user):
    corpus, ids = corpus
    client.force_login(user)
    url = reverse("search:compare", args=[corpus.pk])
    picture = SimpleUploadedFile("q.jpg", photo_bytes("astronaut.png", size=(300, 300)))
    response = client.post(url, {"image": picture, "b": ids["collage.png"]})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Compare “your picture” and “collage.png”" in html and "A copy" in html
    assert 'src="data:image/jpeg;base64,' in html
    assert rect(html, 1) == pytest.approx((0.5, 0, 1, 0.5), abs=0.05)
    bad = SimpleUploadedFile("q.jpg", b"not a picture")
    assert client.post(url, {"image": bad, "b": ids["collage.png"]}).status_code == 400
    assert client.post(url, {"b": ids["collage.png"]}).status_code == 400  # no picture


def test_copies_of_an_uploaded_query_offer_a_compare_form(client, corpus, user):
    corpus, ids = corpus
    client.force_login(user)
    query = SimpleUploadedFile("q.jpg", photo_bytes("astronaut.png", size=(300, 300)))
    html = client.post(reverse("search:results", args=[corpus.pk]), {"image": query}).content
    forms = re.findall(r'<form [^>]*data-compare-upload hidden>.*?name="b" value="(\d+)"',
                       html.decode(), re.S)  # fmt: skip
    assert sorted(int(b) for b in forms) == sorted([ids["astronaut.png"], ids["collage.png"]])
