"""The search page a person expects (issue 15): more results and a score cut-off, the query kept
in the browser for another region (chosen with the keyboard), and paste or drop anywhere."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ContextFactory
from tests.e2e.helpers import filenames_in, resized_jpeg_copy, results_list, two_photos

pytestmark = pytest.mark.e2e

RANK_AND_SCORE = re.compile(r"#(\d+)\s+(-?[01]\.\d{3})")


def ranks_and_scores(page: Page) -> list[tuple[int, float]]:
    texts = results_list(page).get_by_role("listitem").all_inner_texts()
    found = [RANK_AND_SCORE.search(text) for text in texts]
    assert all(found), texts
    return [(int(m[1]), float(m[2])) for m in found if m]


def test_fewer_results_then_show_more_then_a_minimum_score(
    new_context: ContextFactory, tmp_path: Path, e2e_output_dir: Path
) -> None:
    page = new_context().new_page()
    page.goto("/")
    page.get_by_label("Image to search with").set_input_files(
        resized_jpeg_copy("chelsea.png", tmp_path / "cat.jpg", scale=0.5)
    )
    page.get_by_label("Results").select_option("10")
    page.get_by_role("button", name="Search", exact=True).click()

    tiles = results_list(page).get_by_role("listitem")
    expect(tiles).to_have_count(10)
    expect(page.get_by_role("heading", name="10 most similar images")).to_be_visible()
    show_more = page.get_by_role("button", name="Show more")
    show_more.click()
    expect(tiles).to_have_count(20)
    expect(page.get_by_role("heading", name="20 most similar images")).to_be_visible()
    ranked = ranks_and_scores(page)
    assert [rank for rank, _ in ranked] == list(range(1, 21))
    assert [score for _, score in ranked] == sorted((s for _, s in ranked), reverse=True)
    names = filenames_in(results_list(page))
    assert len(set(names)) == 20 and names[0] == "chelsea.png"
    # Focus moved to the first new result, and the change was announced.
    expect(tiles.nth(10).get_by_role("link").first).to_be_focused()
    expect(page.locator("[data-announcer]")).to_have_text("10 more results shown; 20 in all.")
    show_more.click()  # the example corpus has 21 images: one more, then no more
    expect(tiles).to_have_count(21)
    expect(show_more).to_be_hidden()

    # The picture is still in the form: search again, now with a minimum score.
    expect(page.get_by_role("img", name="Preview of cat.jpg")).to_be_visible()
    page.get_by_label("Minimum score").fill("0.5")
    page.get_by_role("button", name="Search", exact=True).click()
    heading = page.get_by_role("heading", name=re.compile(r"most similar image"))
    expect(heading).to_contain_text("scoring 0.5 or more")
    matched = int(re.search(r"of (\d+) scoring", heading.inner_text())[1])
    ranked = ranks_and_scores(page)
    assert len(ranked) == min(matched, 10) and all(score >= 0.5 for _, score in ranked)
    assert matched < 21  # the cut-off left some out
    page.screenshot(path=e2e_output_dir / "15-show-more-min-score.png", full_page=True)


def test_another_region_of_the_same_picture_chosen_with_the_keyboard(
    new_context: ContextFactory, tmp_path: Path, e2e_output_dir: Path
) -> None:
    page = new_context().new_page()
    page.goto("/")
    page.get_by_label("Image to search with").set_input_files(
        two_photos("coffee.png", "rocket.jpg", tmp_path / "coffee-and-rocket.jpg")
    )
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_role("img", name="The image you searched with")).to_be_visible()

    # No file chosen again: the picture came back into the form from the browser's storage.
    expect(page.get_by_role("img", name="Preview of coffee-and-rocket.jpg")).to_be_visible()
    picker = page.get_by_role("group", name="Region selector on the preview")
    picker.focus()
    page.keyboard.press("ArrowRight")  # the first key press starts a region in the middle
    for _ in range(13):
        page.keyboard.press("ArrowUp")  # move it to the top
        page.keyboard.press("ArrowRight")  # and to the right edge
    for _ in range(26):
        page.keyboard.press("Shift+ArrowDown")  # then make it reach the bottom
    field = page.get_by_label("Part of the image")
    left, top, right, bottom = (float(v) for v in field.input_value().split(","))
    assert (left, top, right, bottom) == pytest.approx((0.5, 0.0, 1.0, 1.0), abs=1e-3)
    expect(page.locator("[data-region-readout]")).to_contain_text("50% to 100% across")
    page.screenshot(path=e2e_output_dir / "15-keyboard-region.png", full_page=True)
    page.keyboard.press("Enter")

    expect(page.get_by_role("img", name="The part of the image you searched with")).to_be_visible()
    assert filenames_in(results_list(page))[0] == "rocket.jpg"
    # The new page keeps both the picture and the region just searched.
    expect(page.get_by_role("img", name="Preview of coffee-and-rocket.jpg")).to_be_visible()
    expect(page.get_by_label("Part of the image")).to_have_value("0.5,0,1,1")
    expect(page.locator("[data-region-box]")).to_be_visible()

    # The pointer moves the box (drag inside it) and resizes it (drag its corner).
    box = page.locator("[data-region-box]").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] - box["width"] / 2, box["y"] + box["height"] / 2, steps=5)
    page.mouse.up()
    moved = [float(v) for v in page.get_by_label("Part of the image").input_value().split(",")]
    assert moved == pytest.approx([0.0, 0.0, 0.5, 1.0], abs=0.02)
    box = page.locator("[data-region-box]").bounding_box()
    assert box is not None
    corner = (box["x"] + box["width"] - 3, box["y"] + box["height"] - 3)
    page.mouse.move(*corner)
    page.mouse.down()
    # A tenth narrower, a twentieth shorter: still most of the coffee.
    page.mouse.move(corner[0] - box["width"] / 10, corner[1] - box["height"] / 20, steps=5)
    page.mouse.up()
    resized = [float(v) for v in page.get_by_label("Part of the image").input_value().split(",")]
    assert resized == pytest.approx([0.0, 0.0, 0.45, 0.95], abs=0.02)
    with page.expect_navigation():  # the old page shows the same heading until then
        page.keyboard.press("Enter")  # the picker kept the focus
    expect(page.get_by_role("img", name="The part of the image you searched with")).to_be_visible()
    assert filenames_in(results_list(page))[0] == "coffee.png"


def test_pasting_a_picture_searches_with_it(
    new_context: ContextFactory, tmp_path: Path, e2e_output_dir: Path
) -> None:
    """A real clipboard and a real Ctrl+V: the picture is written to the clipboard, then the
    key press pastes it into the page, with no mouse and no form control focused."""
    context = new_context(permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    cat = resized_jpeg_copy("chelsea.png", tmp_path / "cat.jpg", scale=0.4)
    with Image.open(cat) as image:
        png = tmp_path / "cat.png"
        image.save(png, "PNG")  # what a screenshot tool leaves on the clipboard
    page.goto("/")
    page.evaluate(
        """async (data) => {
            const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
            const blob = new Blob([bytes], { type: "image/png" });
            await navigator.clipboard.write([new ClipboardItem({ "image/png": blob })]);
        }""",
        base64.b64encode(png.read_bytes()).decode(),
    )
    page.locator("body").press("ControlOrMeta+v")
    expect(page.get_by_role("heading", name="Search Example photos", level=1)).to_be_visible()
    assert filenames_in(results_list(page))[0] == "chelsea.png"
    page.screenshot(path=e2e_output_dir / "15-pasted.png", full_page=True)


def test_dropping_a_picture_anywhere_searches_with_it(
    new_context: ContextFactory, tmp_path: Path
) -> None:
    page = new_context().new_page()
    page.goto("/")
    cat = resized_jpeg_copy("chelsea.png", tmp_path / "cat.jpg", scale=0.4)
    # A drop on the page's heading, far from the search box: a file built in the page.
    page.evaluate(
        """(data) => {
            const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], "cat.jpg", { type: "image/jpeg" }));
            const target = document.querySelector("h1");
            for (const type of ["dragenter", "dragover", "drop"]) {
                target.dispatchEvent(new DragEvent(type, {
                    bubbles: true, cancelable: true, dataTransfer: transfer,
                }));
            }
        }""",
        base64.b64encode(cat.read_bytes()).decode(),
    )
    expect(page.get_by_role("img", name="The image you searched with")).to_be_visible()
    assert filenames_in(results_list(page))[0] == "chelsea.png"
