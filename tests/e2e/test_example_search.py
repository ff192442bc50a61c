"""Scenario 1: an anonymous visitor searches the public example corpus from the home page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.helpers import NewContext, filenames_in, resized_jpeg_copy, search_with

pytestmark = pytest.mark.e2e

SCORE = re.compile(r"#(\d+)\s+(-?[01]\.\d{3})")


def test_anonymous_visitor_searches_the_examples_from_the_home_page(
    new_context: NewContext, tmp_path: Path, e2e_output_dir: Path
) -> None:
    query = resized_jpeg_copy("chelsea.png", tmp_path / "my-cat.jpg", scale=0.6, quality=55)
    page = new_context().new_page()

    page.goto("/")
    try_it = page.get_by_role("heading", name="Try it now: search the example photos")
    expect(try_it).to_be_visible()
    expect(page.get_by_role("link", name="Log in")).to_be_visible()  # nobody is logged in

    results = search_with(page, query)

    expect(page.get_by_role("heading", name="Search Example photos", level=1)).to_be_visible()
    expect(page.get_by_role("img", name="The image you searched with")).to_be_visible()
    tiles = results.get_by_role("listitem")
    expect(tiles.first).to_be_visible()
    assert tiles.count() >= 5
    assert filenames_in(results)[0] == "chelsea.png"
    expect(tiles.first.get_by_role("img", name="chelsea.png")).to_be_visible()

    ranks_and_scores = [SCORE.search(text) for text in tiles.all_inner_texts()]
    assert all(ranks_and_scores), tiles.all_inner_texts()
    ranks = [int(match[1]) for match in ranks_and_scores if match]
    scores = [float(match[2]) for match in ranks_and_scores if match]
    assert ranks == list(range(1, len(ranks) + 1))
    assert scores == sorted(scores, reverse=True)
    assert scores[0] > 0.8, f"the cat's own photo should score close to 1, got {scores[0]}"

    page.screenshot(path=e2e_output_dir / "1-example-search.png", full_page=True)
