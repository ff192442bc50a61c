"""Finding photos by words and tags in the browser (issue 14): a word the model saw finds the
right photo (predicted labels from the real encoder), tags edited on the image page persist and
are found by words, and a tag filter keeps only the photos that carry it, on an image search and
on "more like this"."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ContextFactory
from tests.e2e.helpers import (
    action_name,
    filenames_in,
    private_corpus_of,
    results_list,
    sample_photo,
    search_with,
    search_words,
    sign_up,
)

pytestmark = pytest.mark.e2e

PHOTOS = ["coffee.png", "rocket.jpg", "astronaut.png"]


def tag_on_its_page(page: Page, corpus_path: str, filename: str, tags: str) -> str:
    """Opens the photo's page from the corpus grid, saves its tags with the owner's form and
    returns the page's address."""
    page.goto(corpus_path)
    grid = page.get_by_role("region", name="Images")
    grid.get_by_role("link", name=filename, exact=True).click()
    expect(page.get_by_role("heading", name=filename, level=1)).to_be_visible()
    page.get_by_label("Tags", exact=True).fill(tags)
    page.get_by_role("button", name="Save tags and notes").click()
    expect(page.get_by_role("status").filter(has_text=f"“{filename}” saved.")).to_be_visible()
    return page.url


def open_filters(page: Page) -> None:
    page.get_by_text("Filters", exact=True).click()
    expect(page.get_by_label("Tags", exact=True)).to_be_visible()


def test_find_photos_by_words_and_tags(new_context: ContextFactory, e2e_output_dir) -> None:
    page = new_context().new_page()
    sign_up(page, "dora-e2e")
    corpus_path = private_corpus_of(page, "Space and coffee", PHOTOS)
    page.goto(corpus_path)

    # A word the model saw: the encoder labelled the coffee photo "espresso" at encoding time.
    results = search_words(page, "espresso")
    assert filenames_in(results)[0] == "coffee.png"
    results.get_by_role("link", name="coffee.png", exact=True).click()
    expect(page.get_by_role("heading", name="coffee.png", level=1)).to_be_visible()
    expect(page.get_by_role("region", name="What the model sees")).to_contain_text("espresso")

    # Tags edited on the image page persist.
    rocket_page = tag_on_its_page(page, corpus_path, "rocket.jpg", "launch, space")
    tag_on_its_page(page, corpus_path, "astronaut.png", "space")
    page.goto(rocket_page)
    expect(page.get_by_role("heading", name="rocket.jpg", level=1)).to_be_visible()
    notes = page.get_by_role("region", name="Tags and notes")
    expect(notes.get_by_role("link", name="launch", exact=True)).to_be_visible()
    expect(notes.get_by_role("link", name="space", exact=True)).to_be_visible()
    expect(page.get_by_label("Tags", exact=True)).to_have_value("launch, space")

    # A tag is a word to search for: "launch" finds the rocket and nothing else.
    page.goto(corpus_path)
    page.screenshot(path=e2e_output_dir / "14-corpus-page.png", full_page=True)
    assert filenames_in(search_words(page, "launch")) == ["rocket.jpg"]
    page.screenshot(path=e2e_output_dir / "14-text-results.png", full_page=True)

    # Filter by tag: searching with the coffee photo itself, only the photos tagged "space".
    page.goto(corpus_path)
    open_filters(page)
    page.get_by_label("Tags", exact=True).fill("space")
    results = search_with(page, sample_photo("coffee.png"))
    assert sorted(filenames_in(results)) == ["astronaut.png", "rocket.jpg"]
    expect(page.get_by_label("Tags", exact=True)).to_have_value("space")  # kept for the next
    page.screenshot(path=e2e_output_dir / "14-filtered-results.png", full_page=True)

    # The same filter on "more like this" (its own form on that page).
    page.goto(corpus_path)
    page.get_by_role("link", name=action_name("More like this", "coffee.png")).click()
    assert sorted(filenames_in(results_list(page))) == ["astronaut.png", "rocket.jpg"]
    open_filters(page)
    page.get_by_label("Tags", exact=True).fill("launch")
    page.get_by_role("button", name="Apply the filters").click()
    expect(page).to_have_url(re.compile(r"[?&]tags=launch"))
    assert filenames_in(results_list(page)) == ["rocket.jpg"]

    # From the home page, words search every corpus one may see: the example's cat photo.
    page.goto("/")
    page.screenshot(path=e2e_output_dir / "14-home.png", full_page=True)
    assert filenames_in(search_words(page, "cat"))[0] == "chelsea.png"
