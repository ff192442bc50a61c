"""axe-core (shipped by axe-playwright-python) on the site's own pages, in the light and the
dark theme (prefers-color-scheme): no WCAG violations, contrast included."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ContextFactory
from tests.e2e.helpers import (
    axe_violations,
    private_corpus_of,
    resized_jpeg_copy,
    search_with,
    search_words,
    sign_up,
)

pytestmark = pytest.mark.e2e

# The page background each theme paints (static/css/crier.css): proves the scheme took effect.
BACKGROUNDS = {"light": "rgb(246, 247, 251)", "dark": "rgb(17, 19, 24)"}


def check(page: Page, found: list[str], checked: list[str]) -> None:
    page.wait_for_load_state("load")
    found.extend(axe_violations(page))
    checked.append(page.url)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_page_passes_axe_core_in_both_themes(
    new_context: ContextFactory, tmp_path: Path, e2e_output_dir: Path, scheme: str
) -> None:
    page = new_context(color_scheme=scheme).new_page()
    found: list[str] = []
    checked: list[str] = []

    page.goto("/")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == BACKGROUNDS[scheme]
    check(page, found, checked)
    for path in ("/accounts/login/", "/accounts/signup/"):
        page.goto(path)
        check(page, found, checked)
    about = page.goto("/about/")
    if about is not None and about.ok:  # the about page, where the site has one
        check(page, found, checked)

    page.goto("/")
    search_with(page, resized_jpeg_copy("chelsea.png", tmp_path / "cat.jpg", scale=0.5))
    check(page, found, checked)  # results, anonymous
    page.get_by_role("link", name="Example photos").first.click()
    check(page, found, checked)  # a public corpus, not one's own
    page.get_by_role("region", name="Images").get_by_role("link").first.click()
    expect(page.get_by_role("heading", name="What the model sees")).to_be_visible()
    check(page, found, checked)  # an image page, not one's own
    page.go_back()
    page.get_by_role("link", name="Find near-duplicates").click()
    check(page, found, checked)

    sign_up(page, f"axe-{scheme}")
    page.goto("/corpora/")
    check(page, found, checked)
    photos = ["coffee.png", "rocket.jpg"]
    corpus_path = private_corpus_of(page, f"Contrast check {scheme}", photos, "Two photos.")
    page.reload()
    page.get_by_text("Edit details").click()
    expect(page.get_by_role("button", name="Save changes")).to_be_visible()
    page.get_by_role("checkbox", name="Select coffee.png").check()
    check(page, found, checked)  # one's own corpus: edit form, upload box, grid, select many
    search_words(page, "coffee")
    page.get_by_text("Filters", exact=True).click()
    page.get_by_label("Other details").fill("no equals sign")
    page.get_by_role("button", name="Search by words").click()
    expect(page.get_by_role("alert").filter(has_text="key=value")).to_be_visible()
    check(page, found, checked)  # text results, the filters open with an error
    page.screenshot(path=e2e_output_dir / f"axe-{scheme}-text.png", full_page=True)
    page.goto(corpus_path)
    page.get_by_role("link", name="coffee.png", exact=True).click()
    page.get_by_label("Other details (JSON)").fill("{not json")
    page.get_by_role("button", name="Save tags and notes").click()
    expect(page.get_by_role("alert").filter(has_text="not valid JSON")).to_be_visible()
    check(page, found, checked)  # one's own image page, its form showing an error
    page.screenshot(path=e2e_output_dir / f"axe-{scheme}-image.png", full_page=True)
    page.goto("/accounts/token/")
    page.get_by_label("Name", exact=True).fill("accessibility check")
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_role("textbox", name="Your new key")).to_be_visible()
    check(page, found, checked)
    page.screenshot(path=e2e_output_dir / f"axe-{scheme}-token.png", full_page=True)

    assert len(checked) >= 12
    assert found == [], "\n".join(found)
