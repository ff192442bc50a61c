"""Copies on the results page (issue 22): a photo searched finds the 2×2 collage that holds it
in "Copies of this picture", with the matched region drawn where the API says it is, and the
compare view shows the two side by side; axe-core finds nothing on these pages on a phone and
a desktop, in both themes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Locator, Page, expect

from tests.e2e.conftest import ContextFactory
from tests.e2e.helpers import (
    DESKTOP,
    PHONE,
    axe_violations,
    create_private_corpus,
    resized_jpeg_copy,
    sample_photo,
    search_with,
    sign_up,
    upload_images,
    wait_until_ready,
)

pytestmark = pytest.mark.e2e

CELL = 300


def collage(target: Path) -> Path:
    """The astronaut in the top-right cell of a 2×2 collage of unrelated photos."""
    out = Image.new("RGB", (2 * CELL, 2 * CELL))
    for n, name in enumerate(["coffee.png", "astronaut.png", "rocket.jpg", "chelsea.png"]):
        with Image.open(sample_photo(name)) as photo:
            out.paste(photo.convert("RGB").resize((CELL, CELL)), ((n % 2) * CELL, (n // 2) * CELL))
    out.save(target, "JPEG", quality=90)
    return target


def fractions(inner: Locator, outer: Locator) -> tuple[float, float, float, float]:
    """Where ``inner`` is drawn on ``outer``: left, top, right, bottom as fractions."""
    box, frame = inner.bounding_box(), outer.bounding_box()
    assert box and frame
    return (
        (box["x"] - frame["x"]) / frame["width"],
        (box["y"] - frame["y"]) / frame["height"],
        (box["x"] + box["width"] - frame["x"]) / frame["width"],
        (box["y"] + box["height"] - frame["y"]) / frame["height"],
    )


def copy_tile(page: Page, filename: str) -> Locator:
    """The tile of ``filename`` in the page's "Copies of this picture" section."""
    copies = page.get_by_role("region", name="Copies of this picture")
    expect(copies).to_be_visible()
    return copies.get_by_role("listitem").filter(has=page.get_by_role("img", name=filename))


def compare_with(tile: Locator, filename: str, role: str = "link") -> None:
    """Opens the compare view from a copy's tile (a link, or for an upload a button)."""
    name = re.compile(rf"^Compare\s*with {re.escape(filename)}$")
    tile.get_by_role(role, name=name).click()


def image_id(tile: Locator) -> int:
    href = tile.get_by_role("link").first.get_attribute("href") or ""
    return int(re.search(r"/images/(\d+)/", href)[1])


def check_axe(page: Page, found: list[str]) -> None:
    """axe-core at both widths and in both themes, on the page as it is."""
    for screen in (PHONE, DESKTOP):
        page.set_viewport_size(screen["viewport"])
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            found.extend(
                f"{screen['viewport']['width']}px {scheme}: {v}" for v in axe_violations(page)
            )
    page.set_viewport_size(DESKTOP["viewport"])
    page.emulate_media(color_scheme="light")


def test_a_photo_finds_the_collage_that_holds_it_and_where(
    new_context: ContextFactory, tmp_path: Path, e2e_output_dir: Path
) -> None:
    page = new_context(**DESKTOP).new_page()
    found: list[str] = []
    sign_up(page, "copies-ui")
    corpus_path = create_private_corpus(page, "Copies", "A photo and a collage holding it.")
    corpus_id = int(re.search(r"/corpora/(\d+)/", corpus_path)[1])
    upload_images(
        page, [sample_photo("astronaut.png"), collage(tmp_path / "collage.jpg"),
               sample_photo("camera.png")],
    )  # fmt: skip
    wait_until_ready(page, 3)

    query = resized_jpeg_copy("astronaut.png", tmp_path / "astronaut-query.jpg", scale=0.5)
    search_with(page, query)
    tile = copy_tile(page, "collage.jpg")
    similar = page.get_by_role("region", name="Similar pictures")
    expect(tile).to_have_count(1)
    expect(tile).to_contain_text("Copy")
    expect(similar.get_by_role("img", name="camera.png")).to_be_visible()
    expect(similar.get_by_role("img", name="collage.jpg")).to_have_count(0)
    drawn = fractions(tile.locator(".match-overlay .match-rect"), tile.get_by_role("img"))
    assert drawn == pytest.approx((0.5, 0, 1, 0.5), abs=0.06)  # the top-right cell
    # Where the API says it matches (the same search, through the API).
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    answer = page.request.post(
        f"/api/v1/corpora/{corpus_id}/search/",
        multipart={"image": {"name": "q.jpg", "mimeType": "image/jpeg",
                             "buffer": query.read_bytes()}},
        headers={"X-CSRFToken": csrf},
    )  # fmt: skip
    assert answer.ok, answer.text()
    hits = {hit["filename"]: hit for hit in answer.json()["results"]}
    assert hits["collage.jpg"]["match"]["kind"] == "copy"
    assert drawn == pytest.approx(tuple(hits["collage.jpg"]["match"]["target_box"]), abs=0.03)
    # The query's box on the tile's small picture of the query: the whole photo.
    strip = tile.locator(".match-query")
    expect(strip).to_be_visible()
    assert fractions(strip.locator(".match-rect"), strip) == pytest.approx(
        tuple(hits["collage.jpg"]["match"]["query_box"]), abs=0.03
    )
    page.screenshot(path=e2e_output_dir / "22-copies.png", full_page=True)
    check_axe(page, found)

    # More like the stored photo: the collage is a copy; its tile opens the compare view.
    astronaut = copy_tile(page, "astronaut.png")
    ids = image_id(astronaut), image_id(tile)
    astronaut.get_by_role("link", name=re.compile(r"^More like this")).click()
    expect(page.get_by_role("heading", name="More like “astronaut.png”")).to_be_visible()
    check_axe(page, found)
    compare_with(copy_tile(page, "collage.jpg"), "collage.jpg")

    expect(
        page.get_by_role("heading", name="Compare “astronaut.png” and “collage.jpg”")
    ).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile("A copy"))).to_be_visible()
    expect(page.locator("[data-overlap=target]")).to_contain_text(re.compile(r"2[2-8]% of"))
    api = page.request.post(
        f"/api/v1/corpora/{corpus_id}/compare/",
        data={"image_id": ids[0], "other_id": ids[1]},
        headers={"X-CSRFToken": csrf},
    ).json()
    for side, key in (("a", "query_box"), ("b", "target_box")):
        figure = page.locator(f"[data-side={side}]")
        drawn = fractions(figure.locator(".match-rect"), figure.get_by_role("img"))
        assert drawn == pytest.approx(tuple(api["match"][key]), abs=0.03), side
    page.screenshot(path=e2e_output_dir / "22-compare.png", full_page=True)
    check_axe(page, found)

    # The uploaded photo against the collage: the picture kept in the browser is sent again.
    page.goto(corpus_path)
    search_with(page, query)
    compare_with(copy_tile(page, "collage.jpg"), "collage.jpg", role="button")
    expect(
        page.get_by_role("heading", name="Compare “your picture” and “collage.jpg”")
    ).to_be_visible()
    figure = page.locator("[data-side=b]")
    drawn = fractions(figure.locator(".match-rect"), figure.get_by_role("img"))
    assert drawn == pytest.approx((0.5, 0, 1, 0.5), abs=0.06)
    expect(page.locator("[data-side=a]").get_by_role("img", name="Your picture")).to_be_visible()
    check_axe(page, found)
    assert found == [], "\n".join(found)
