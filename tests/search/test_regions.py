"""Searching with a part of the query image: parsing, cropping, and the API and page using it."""

from __future__ import annotations

import io
import re
from dataclasses import astuple

import pytest
from django.urls import reverse
from PIL import Image
from rest_framework.test import APIClient

from crier_site.errors import InvalidInput
from search.queries.regions import FRACTIONS, Region
from tests.api_helpers import as_file, error_of
from tests.factories import ingested_corpus, photo_bytes


def test_parse_accepts_fractions_with_spaces():
    assert Region.parse(" 0.1, 0.2,0.6 ,0.9") == Region(0.1, 0.2, 0.6, 0.9)
    assert str(Region.parse("0,0,1,1")) == "0,0,1,1"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0.1,0.2,0.6", "four numbers"),
        ("a,b,c,d", "four numbers"),
        ("0,0,nan,1", "four numbers"),
        ("-0.1,0,0.5,1", "between 0 and 1"),
        ("0,0,1.5,1", "between 0 and 1"),
    ],
)
def test_parse_refuses_bad_regions_with_a_reason(text, message):
    with pytest.raises(InvalidInput, match=message):
        Region.parse(text)


@pytest.mark.parametrize(
    ("text", "region"),
    [
        ("0.6,0.9,0.5,0.1", Region(0.5, 0.1, 0.6, 0.9)),  # corners in either order
        ("0,0,0,0", Region(0.0, 0.0, 0.02, 0.02)),  # a click: the smallest region, inside
        ("1,1,1,1", Region(0.98, 0.98, 1.0, 1.0)),
        ("0.5,0.2,0.505,0.8", Region(0.4925, 0.2, 0.5125, 0.8)),  # widened about its centre
    ],
)
def test_every_four_fractions_make_a_region(text, region):
    assert astuple(Region.parse(text)) == pytest.approx(astuple(region))


@pytest.mark.parametrize(
    "text", ["0,0,0,0", "1,1,1,1", ".5,0.,1.0,1", " 0.25 , 0.5,0.75 ,1 ", "0,0,1,1"]
)
def test_the_schema_pattern_takes_what_parse_takes(text):
    assert re.match(FRACTIONS, text)
    Region.parse(text)


@pytest.mark.parametrize("text", ["0,0,2,1", "1.5,0,1,1", "0,0,1", "a,b,c,d", "00.5,0,1,1"])
def test_the_schema_pattern_refuses_what_is_not_four_fractions(text):
    assert not re.match(FRACTIONS, text)


def test_crop_uses_fractions_of_the_image():
    image = Image.new("RGB", (200, 100))
    assert Region(0.25, 0.5, 0.75, 1.0).crop(image).size == (100, 50)
    assert Region(0.0, 0.0, 0.03, 0.03).crop(image).size == (8, 8)  # 6 x 3 pixels, widened
    assert Region(0.99, 0.99, 1.0, 1.0).crop(Image.new("RGB", (5, 300))).size == (5, 8)


def side_by_side(left: str, right: str) -> bytes:
    """Two photos in one picture, each 256 x 256."""
    canvas = Image.new("RGB", (512, 256))
    for x, name in ((0, left), (256, right)):
        canvas.paste(Image.open(io.BytesIO(photo_bytes(name, "PNG", (256, 256)))), (x, 0))
    buffer = io.BytesIO()
    canvas.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


@pytest.fixture
def photos(user, django_capture_on_commit_callbacks):
    originals = {name: photo_bytes(name, "PNG", (256, 256)) for name in ("coffee.png",
                 "rocket.jpg", "chelsea.png", "astronaut.png", "moon.png")}  # fmt: skip
    return ingested_corpus(
        user, "photos", originals, django_capture_on_commit_callbacks, encoder="efficientnet-lite0"
    )


@pytest.mark.django_db
@pytest.mark.slow
def test_each_half_of_a_two_photo_query_finds_its_photo(user, photos):
    corpus, ids = photos
    api = APIClient()
    api.force_authenticate(user)
    query = side_by_side("coffee.png", "rocket.jpg")
    url = reverse("api:search", args=[corpus.pk])
    tops = {}
    for half, region in (("left", "0,0,0.5,1"), ("right", "0.5,0,1,1")):
        response = api.post(url, {"image": as_file(query, "both.jpg"), "region": region, "k": 2})
        assert response.status_code == 200, response.content
        tops[half] = response.json()["results"][0]
    assert tops["left"]["image_id"] == ids["coffee.png"]
    assert tops["right"]["image_id"] == ids["rocket.jpg"]
    assert tops["left"]["score"] > 0.8 and tops["right"]["score"] > 0.8

    whole = api.post(url, {"image": as_file(query, "both.jpg"), "k": 1}).json()["results"][0]
    assert whole["score"] < min(tops["left"]["score"], tops["right"]["score"])

    bad = api.post(url, {"image": as_file(query, "both.jpg"), "region": "0,0,2,1"})
    assert bad.status_code == 400 and "region" in error_of(bad)["fields"]
    similar = reverse("api:search-similar", args=[corpus.pk])
    mixed = api.post(similar, {"image_id": ids["moon.png"], "region": "0,0,1,1"}, format="json")
    assert mixed.status_code == 400 and "region" in error_of(mixed)["message"]


@pytest.mark.django_db
@pytest.mark.slow
def test_the_search_page_takes_a_region(client, user, photos):
    corpus, _ = photos
    client.force_login(user)
    url = reverse("search:results", args=[corpus.pk])
    query = side_by_side("coffee.png", "rocket.jpg")
    page = client.post(url, {"image": as_file(query, "both.jpg"), "region": "0.5, 0, 1, 1"})
    html = page.content.decode()
    assert page.status_code == 200 and "The part of the image you searched with" in html
    assert html.index("rocket.jpg") < html.index("coffee.png")
    refused = client.post(url, {"image": as_file(query, "both.jpg"), "region": "left half"})
    assert refused.status_code == 400 and "four numbers" in refused.content.decode()
