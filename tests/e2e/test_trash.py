"""The trash in a browser (docs/trash.md): a deleted image leaves the search results at once,
waits on the Trash page, and comes back, searchable as before, with one click; the Trash page
passes axe-core on a phone and a desktop, in both themes."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ContextFactory
from tests.e2e.helpers import (
    action_name,
    axe_violations,
    create_private_corpus,
    filenames_in,
    private_corpus_of,
    resized_jpeg_copy,
    search_with,
    sign_up,
    wait_until_ready,
)

pytestmark = pytest.mark.e2e

PHOTOS = ["coffee.png", "rocket.jpg", "chelsea.png"]


def open_trash(page: Page) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My corpora").click()
    page.get_by_role("link", name="Trash", exact=True).click()
    expect(page.get_by_role("heading", name="Trash", level=1)).to_be_visible()


def test_delete_an_image_find_it_in_the_trash_restore_it_and_search_it_back(
    new_context: ContextFactory, tmp_path: Path, e2e_output_dir: Path
) -> None:
    page = new_context().new_page()
    sign_up(page, "trash-restorer")
    corpus_path = private_corpus_of(page, "Kitchen table", PHOTOS)
    query = resized_jpeg_copy("coffee.png", tmp_path / "coffee.jpg", scale=0.5)
    assert filenames_in(search_with(page, query))[0] == "coffee.png"

    page.goto(corpus_path)
    page.get_by_role("link", name=action_name("Delete", "coffee.png")).click()
    expect(page.get_by_role("link", name="your trash")).to_be_visible()
    page.get_by_role("button", name="Move the image to the trash").click()
    expect(page.get_by_text("Image “coffee.png” moved to the trash.")).to_be_visible()
    # Gone from the results at once, before the index is rebuilt.
    found = filenames_in(search_with(page, query))
    assert found and "coffee.png" not in found

    open_trash(page)
    images = page.get_by_role("region", name="Images")
    expect(images.get_by_role("img", name="coffee.png")).to_be_visible()
    page.screenshot(path=e2e_output_dir / "trash-page.png", full_page=True)
    images.get_by_role("button", name=action_name("Restore", "coffee.png")).click()
    expect(page.get_by_text("Restored “coffee.png”.")).to_be_visible()
    expect(page.get_by_text("Your trash is empty.")).to_be_visible()

    page.goto(corpus_path)
    wait_until_ready(page, len(PHOTOS))  # the index took it back (no re-encoding needed)
    assert filenames_in(search_with(page, query))[0] == "coffee.png"


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_trash_page_passes_axe_core_on_a_phone_and_a_desktop(
    new_context: ContextFactory, e2e_output_dir: Path, scheme: str
) -> None:
    page = new_context(color_scheme=scheme).new_page()
    sign_up(page, f"trash-axe-{scheme}")
    corpus_path = private_corpus_of(page, f"Trash check {scheme}", ["coffee.png", "rocket.jpg"])
    page.get_by_role("link", name=action_name("Delete", "rocket.jpg")).click()
    page.get_by_role("button", name="Move the image to the trash").click()
    other = create_private_corpus(page, f"Old notes {scheme}")
    page.goto(other.rstrip("/") + "/delete/")
    page.get_by_role("button", name="Move the corpus to the trash").click()
    page.goto(corpus_path)

    found: list[str] = []
    for width, height in ((390, 844), (1280, 900)):
        page.set_viewport_size({"width": width, "height": height})
        page.goto("/corpora/trash/")
        expect(page.get_by_role("region", name="Corpora")).to_contain_text(f"Old notes {scheme}")
        expect(page.get_by_role("img", name="rocket.jpg")).to_be_visible()
        page.wait_for_load_state("load")
        found += axe_violations(page)
        page.screenshot(path=e2e_output_dir / f"trash-{scheme}-{width}.png", full_page=True)
        page.get_by_role("button", name="Empty the trash").click()
        expect(page.get_by_role("heading", name="Empty the trash?")).to_be_visible()
        page.wait_for_load_state("load")
        found += axe_violations(page)
        scroll = page.evaluate("document.documentElement.scrollWidth")
        assert scroll <= width, f"the page scrolls sideways at {width} px ({scroll} px wide)"
    assert found == [], "\n".join(found)
