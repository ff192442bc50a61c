"""The About page in a real browser: reached from the footer of any page, it shows the project
page rendered from docs/about.md — headings, the evaluation table and its figures loaded."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ContextFactory

pytestmark = pytest.mark.e2e


def test_about_is_linked_from_the_footer_and_renders_the_project_page(
    new_context: ContextFactory,
) -> None:
    page = new_context().new_page()
    page.goto("/")
    page.get_by_role("contentinfo").get_by_role("link", name="About").click()
    expect(page).to_have_url(re.compile(r"/about/$"))
    expect(page.get_by_role("heading", level=1, name="About CRIER")).to_be_visible()
    expect(page.get_by_role("heading", name="How it works")).to_be_visible()
    expect(page.get_by_role("heading", name="The API in brief")).to_be_visible()
    table = page.get_by_role("table").first
    expect(table.get_by_role("cell", name="EfficientNet-Lite0 (default)")).to_be_visible()

    figures = page.get_by_role("img", name="mAP@k")
    expect(figures.first).to_be_visible()
    assert figures.count() >= 2
    for index in range(figures.count()):
        figure = figures.nth(index)
        figure.scroll_into_view_if_needed()
        loaded = figure.evaluate("img => img.complete && img.naturalWidth > 0")
        assert loaded, figure.get_attribute("src")
    # Swagger UI is one click away.
    expect(page.get_by_role("link", name="/api/docs/")).to_have_attribute("href", "/api/docs/")
