"""The corpus page a person expects (issue 15): its details edited in place, and many images
deleted at once through "Delete selected" and the confirmation page."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ContextFactory
from tests.e2e.helpers import private_corpus_of, sign_up

pytestmark = pytest.mark.e2e

PHOTOS = ["coffee.png", "rocket.jpg", "astronaut.png"]


def test_edit_details_in_place_then_delete_two_images_at_once(
    new_context: ContextFactory, e2e_output_dir
) -> None:
    page = new_context().new_page()
    sign_up(page, "carol-e2e")
    path = private_corpus_of(page, "Camera roll", PHOTOS, "Unsorted.")
    page.goto(path)

    # Edit in place, by keyboard: open the details, fix the name, make it public.
    page.get_by_text("Edit details").focus()
    page.keyboard.press("Enter")
    name = page.get_by_label("Name", exact=True)
    expect(name).to_have_value("Camera roll")
    name.fill("")
    page.get_by_role("button", name="Save changes").click()
    # Refused with the API's words, nothing changed, the form open with the field marked.
    refusal = page.get_by_role("alert").filter(has_text="This field may not be blank.")
    expect(refusal).to_be_visible()
    expect(page.get_by_label("Name", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_role("heading", name="Camera roll", level=1)).to_be_visible()

    page.get_by_label("Name", exact=True).fill("Holiday 2026")
    page.get_by_label("Description").fill("The good ones.")
    page.get_by_label("Visibility").select_option(label="Public")
    page.get_by_label("Delete automatically after (minutes from now)").fill("120")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("status").filter(has_text="“Holiday 2026” saved")).to_be_visible()
    expect(page.get_by_role("heading", name="Holiday 2026", level=1)).to_be_visible()
    expect(page.get_by_text("The good ones.").first).to_be_visible()
    status = page.locator("[data-corpus-status]")
    expect(status).to_contain_text("Public")
    expect(status).to_contain_text("Deleted automatically")

    # Select many: two ticks, "Delete selected", the confirmation page, back to the page.
    grid = page.get_by_role("region", name="Images")
    expect(grid.get_by_role("checkbox")).to_have_count(len(PHOTOS))
    grid.get_by_role("checkbox", name="Select coffee.png").check()
    grid.get_by_role("checkbox", name="Select rocket.jpg").focus()
    page.keyboard.press("Space")
    expect(page.get_by_text("2 selected.")).to_be_visible()
    page.screenshot(path=e2e_output_dir / "15-select-many.png", full_page=True)
    page.get_by_role("button", name="Delete selected").click()
    expect(page.get_by_role("heading", name="Delete 2 images from “Holiday 2026”?")).to_be_visible()
    page.get_by_role("button", name="Move 2 images to the trash").click()
    expect(
        page.get_by_role("status").filter(has_text="2 images moved to the trash.")
    ).to_be_visible()
    expect(page.get_by_role("heading", name="Holiday 2026", level=1)).to_be_visible()
    grid = page.get_by_role("region", name="Images")
    expect(grid.get_by_role("img")).to_have_count(1)
    expect(grid.get_by_role("img", name="astronaut.png")).to_be_visible()
