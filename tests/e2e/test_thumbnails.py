"""Every grid shows thumbnails: a browser records each request while someone uploads 12-MP
camera photos, watches the grid redraw itself, searches, asks for more like this, looks at
near-duplicates and the delete confirmation, and visits the home page. Not one original file
is requested by a grid; every tile image has its size set and loads lazily."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Page, Request, expect

from tests.e2e.conftest import ContextFactory
from tests.e2e.helpers import (
    action_name,
    create_private_corpus,
    search_with,
    sign_up,
    upload_images,
    wait_until_ready,
)

pytestmark = pytest.mark.e2e

ORIGINAL = re.compile(r"/images/\d+/file/")
THUMBNAIL = re.compile(r"/images/\d+/thumbnail/")


def image_requests(page: Page) -> list[str]:
    seen: list[str] = []

    def record(request: Request) -> None:
        if request.resource_type == "image" or ORIGINAL.search(request.url):
            seen.append(request.url)

    page.on("request", record)
    return seen


def check_tiles(page: Page) -> int:
    """Every tile image has width, height, lazy loading and a thumbnail URL; returns how many."""
    tiles = page.locator(".grid img")
    expect(tiles.first).to_be_visible()
    for img in tiles.all():
        assert THUMBNAIL.search(img.get_attribute("src") or ""), img.get_attribute("src")
        assert img.get_attribute("loading") == "lazy"
        assert int(img.get_attribute("width") or 0) <= 320
        assert int(img.get_attribute("height") or 0) <= 320
        # Decoded from the WebP thumbnail, not a 4000-px original.
        assert img.evaluate("el => el.naturalWidth") <= 320
    return tiles.count()


def test_no_grid_requests_an_original_file(
    new_context: ContextFactory, camera_photos: list[Path], tmp_path: Path, e2e_output_dir: Path
) -> None:
    # A re-compressed copy of the first photo, so the near-duplicates page has a group.
    copy = tmp_path / "camera-copy.jpg"
    with Image.open(camera_photos[0]) as photo:
        photo.save(copy, quality=70, exif=photo.info.get("exif", b""))
    photos = [*camera_photos, copy]
    page = new_context().new_page()
    requested = image_requests(page)
    sign_up(page, "thumbs-e2e")
    corpus_path = create_private_corpus(page, "Camera roll")

    upload_images(page, photos)
    wait_until_ready(page, len(photos))
    # The grid redraws itself (static/js/corpus.js) when indexing ends: wait for its tiles.
    expect(page.locator("[data-image-grid] .grid img")).to_have_count(len(photos))
    assert check_tiles(page) == len(photos)

    page.goto(corpus_path)
    check_tiles(page)
    search_with(page, camera_photos[0])
    check_tiles(page)
    page.goto(corpus_path)
    page.get_by_role("link", name=action_name("More like this", camera_photos[1].name)).click()
    check_tiles(page)
    page.goto(corpus_path)
    page.get_by_role("link", name="Find near-duplicates").click()
    check_tiles(page)
    page.get_by_role("link", name=re.compile(r"^Keep ")).first.click()
    check_tiles(page)  # the confirmation page's grid
    page.goto("/")
    check_tiles(page)  # the example photos
    page.screenshot(path=e2e_output_dir / "thumbnails-home.png", full_page=True)

    originals = [url for url in requested if ORIGINAL.search(url)]
    assert originals == [], originals
    assert sum(bool(THUMBNAIL.search(url)) for url in requested) >= len(camera_photos)
