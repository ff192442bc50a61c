"""A person on a phone (issue 23), each scenario on a 390 × 844 phone and a 1280-px desktop:
results and images on the first screen, a refused search's error at the top and focused, no
broken-image icon, a visible word for a dropped non-image, sign in and back to one's private
corpus, the image page's previous/next (arrow keys too), zoom and download, and the facts that
pick which near-duplicate to keep."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Locator, Page, expect

from tests.e2e.conftest import ContextFactory
from tests.e2e.helpers import (
    PASSWORD,
    PHONE,
    SCREENS,
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

# Visible images whose picture failed to load: what the browser draws as a broken-image icon.
BROKEN_IMAGES = """() => [...document.images].filter((img) =>
  img.getAttribute("src") && img.complete && img.naturalWidth === 0 && img.getClientRects().length
).map((img) => img.alt || img.src)"""


def on_first_screen(page: Page, element: Locator) -> bool:
    """Whether the element is whole inside the viewport without any scrolling."""
    page.evaluate("window.scrollTo(0, 0)")
    box = element.bounding_box()
    height = page.viewport_size["height"] if page.viewport_size else 0
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= height


def open_example_corpus(page: Page) -> None:
    page.goto("/")
    page.get_by_role("link", name="See all example photos").click()
    expect(page.get_by_role("heading", name="Example photos", level=1)).to_be_visible()


@pytest.mark.parametrize("screen", SCREENS)
def test_after_a_search_the_first_results_are_on_the_first_screen(
    new_context: ContextFactory, tmp_path: Path, e2e_output_dir: Path, screen: str
) -> None:
    page = new_context(**SCREENS[screen]).new_page()
    page.goto("/")
    results = search_with(page, resized_jpeg_copy("chelsea.png", tmp_path / "cat.jpg"))
    first = results.get_by_role("listitem").first.get_by_role("img", name="chelsea.png")
    expect(first).to_be_visible()
    strip = page.get_by_role("region", name="Your query")
    expect(strip.get_by_role("img", name="The image you searched with")).to_be_visible()
    again = page.get_by_text("Search again with another picture, part or filter")
    form_open = page.locator("details.search-again").evaluate("d => d.open")
    if screen == "phone":
        assert on_first_screen(page, first), "the first result needs scrolling on a phone"
        assert not form_open  # folded: one tap away
        again.click()
        expect(page.get_by_label("Image to search with")).to_be_visible()
    else:
        assert form_open  # a wide screen has room for the form beside the results
    assert page.evaluate(BROKEN_IMAGES) == []
    page.screenshot(path=e2e_output_dir / f"23-results-{screen}.png")


@pytest.mark.parametrize("screen", SCREENS)
def test_a_refused_search_says_so_at_the_top_focused_without_a_broken_image(
    new_context: ContextFactory, tmp_path: Path, e2e_output_dir: Path, screen: str
) -> None:
    fake = tmp_path / "scan.jpg"  # a PDF renamed .jpg
    fake.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer\n%%EOF\n")
    page = new_context(**SCREENS[screen]).new_page()
    page.goto("/")
    page.get_by_label("Image to search with").set_input_files(fake)
    page.get_by_role("button", name="Search", exact=True).click()

    notice = page.get_by_role("alert").filter(has_text="The search could not run")
    expect(notice).to_be_visible()
    expect(notice).to_be_focused()
    expect(notice).to_contain_text("Not an image file")
    assert on_first_screen(page, notice)
    expect(page.get_by_text("No image searched yet")).to_have_count(0)
    # The kept file comes back into the form; it cannot be shown, so no preview at all.
    page.wait_for_function(
        "() => { const p = document.querySelector('[data-preview]'); return p && p.hidden; }"
    )
    assert page.evaluate(BROKEN_IMAGES) == []
    page.screenshot(path=e2e_output_dir / f"23-refused-{screen}.png")


@pytest.mark.parametrize("screen", SCREENS)
def test_a_corpus_page_shows_its_first_images_on_the_first_screen(
    new_context: ContextFactory, e2e_output_dir: Path, screen: str
) -> None:
    page = new_context(**SCREENS[screen]).new_page()
    open_example_corpus(page)
    grid = page.get_by_role("region", name="Images")
    first = grid.get_by_role("listitem").first
    expect(first).to_be_visible()
    search_fold = page.locator("details.fold").filter(has_text="Search this corpus")
    if screen == "phone":
        assert on_first_screen(page, first.get_by_role("img"))
        assert not search_fold.evaluate("d => d.open")
        page.get_by_text("Search this corpus").click()
        expect(page.get_by_label("Words to search for")).to_be_visible()
    else:
        assert search_fold.evaluate("d => d.open")
    assert page.evaluate(BROKEN_IMAGES) == []
    page.screenshot(path=e2e_output_dir / f"23-corpus-{screen}.png")


DROP_FILE = """([target, name, type]) => {
  const transfer = new DataTransfer();
  transfer.items.add(new File(["not a picture"], name, { type }));
  const where = target ? document.querySelector(target) : document.body;
  for (const kind of ["dragenter", "dragover", "drop"]) {
    const init = { bubbles: true, cancelable: true, dataTransfer: transfer };
    where.dispatchEvent(new DragEvent(kind, init));
  }
}"""


@pytest.mark.parametrize("screen", SCREENS)
def test_dropping_a_file_that_is_not_a_picture_says_so_visibly(
    new_context: ContextFactory, screen: str
) -> None:
    page = new_context(**SCREENS[screen]).new_page()
    page.goto("/")
    page.evaluate(DROP_FILE, [None, "notes.txt", "text/plain"])  # anywhere on the page
    notice = page.get_by_role("alert").filter(has_text="notes.txt is not an image")
    expect(notice).to_be_visible()
    assert on_first_screen(page, notice)
    # Onto the search box itself: said inside the box; nothing was chosen.
    search_box = "form[data-search-form] [data-dropzone]"
    page.evaluate(DROP_FILE, [search_box, "cv.pdf", "application/pdf"])
    expect(page.get_by_role("alert").filter(has_text="Not an image: cv.pdf.")).to_be_visible()
    assert page.get_by_label("Image to search with").evaluate("input => input.files.length") == 0


def test_a_signed_out_owner_is_sent_to_sign_in_and_back(new_context: ContextFactory) -> None:
    page = new_context(**PHONE).new_page()
    sign_up(page, "olive-e2e")
    path = create_private_corpus(page, "Dora's private photos")
    page.get_by_role("button", name="Log out olive-e2e").click()

    page.goto(path)
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    expect(page.get_by_text("Log in to open that page")).to_be_visible()
    page.get_by_label("Username").fill("olive-e2e")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Dora's private photos", level=1)).to_be_visible()
    assert page.url.endswith(path)

    # Anyone else signed in still gets "not found", never a sign-in page.
    other = new_context().new_page()
    sign_up(other, "eve-e2e")
    response = other.goto(path)
    assert response is not None and response.status == 404
    expect(other.get_by_role("heading", name="Page not found")).to_be_visible()


@pytest.mark.parametrize("screen", SCREENS)
def test_the_image_page_steps_through_the_corpus_zooms_and_downloads(
    new_context: ContextFactory, e2e_output_dir: Path, screen: str
) -> None:
    page = new_context(accept_downloads=True, **SCREENS[screen]).new_page()
    open_example_corpus(page)
    grid = page.get_by_role("region", name="Images")
    names = grid.get_by_role("img").evaluate_all("els => els.map(e => e.alt)")
    grid.get_by_role("link").first.click()
    nav = page.get_by_role("navigation", name="Images of this corpus")
    expect(page.get_by_role("heading", name=names[0], level=1)).to_be_visible()
    expect(nav).to_contain_text(re.compile(r"1 of \d+"))
    expect(nav.get_by_text("First image")).to_be_visible()

    if screen == "desktop":
        page.keyboard.press("ArrowRight")  # the keys step through the corpus
    else:
        nav.get_by_role("link", name=re.compile("^Next")).click()
    expect(page.get_by_role("heading", name=names[1], level=1)).to_be_visible()
    expect(nav).to_contain_text(re.compile(r"2 of \d+"))
    if screen == "desktop":
        page.keyboard.press("ArrowLeft")
    else:
        nav.get_by_role("link", name=re.compile("Previous")).click()
    expect(page.get_by_role("heading", name=names[0], level=1)).to_be_visible()

    picture = page.locator(".image-picture")
    expect(picture).to_be_visible()
    zoom = page.get_by_role("button", name=re.compile("^Zoom to the original"))
    zoom.click()
    expect(zoom).to_have_attribute("aria-pressed", "true")
    sizes = picture.evaluate("img => [img.naturalWidth, img.getBoundingClientRect().width]")
    assert sizes[0] > 0 and abs(sizes[0] - sizes[1]) < 1, sizes  # its own pixels
    frame = page.get_by_role("group", name=re.compile("at its own size"))
    expect(frame).to_be_focused()
    page.keyboard.press("ArrowRight")  # scrolls the picture; does not leave the page
    expect(page.get_by_role("heading", name=names[0], level=1)).to_be_visible()
    page.screenshot(path=e2e_output_dir / f"23-zoomed-{screen}.png")
    zoom.click()
    expect(zoom).to_have_attribute("aria-pressed", "false")

    with page.expect_download() as saved:
        page.get_by_role("link", name=re.compile(r"^Download")).click()
    assert saved.value.suggested_filename == names[0]
    assert page.evaluate(BROKEN_IMAGES) == []


def test_near_duplicates_show_size_pixels_and_dates(
    new_context: ContextFactory, tmp_path: Path, e2e_output_dir: Path
) -> None:
    page = new_context(**PHONE).new_page()
    sign_up(page, "fred-e2e")
    create_private_corpus(page, "Two of the same")
    copy = resized_jpeg_copy("coffee.png", tmp_path / "coffee-small.jpg", scale=0.5, quality=80)
    upload_images(page, [sample_photo("coffee.png"), copy, sample_photo("rocket.jpg")])
    wait_until_ready(page, 3)
    page.reload()
    page.get_by_role("link", name="Find near-duplicates").click()
    page.get_by_label("Similarity at least").fill("0.85")
    page.get_by_role("button", name="Find near-duplicates").click()
    group = page.get_by_role("region", name=re.compile(r"^Group 1,"))
    tiles = group.get_by_role("listitem")
    expect(tiles).to_have_count(2)
    facts = [tile.inner_text() for tile in tiles.all()]
    with Image.open(sample_photo("coffee.png")) as original, Image.open(copy) as small:
        expected = {f"{image.width} × {image.height}" for image in (original, small)}
    pixels = {m[1] for text in facts if (m := re.search(r"Pixels\s+(\d+ × \d+)", text))}
    assert pixels == expected, facts  # the copy is half the size: keep the original
    for text in facts:
        assert re.search(r"Size\s+[\d.,]+\s*(bytes|KB|MB)", text), text
        assert re.search(r"Taken\s+unknown", text), text
        assert re.search(r"Added\s+\d+ \w+ \d{4}", text), text
    assert axe_violations(page) == []  # the facts under each copy
    page.screenshot(path=e2e_output_dir / "23-duplicates-phone.png", full_page=True)


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("screen", SCREENS)
def test_the_changed_pages_pass_axe_core_on_both_screens_and_themes(
    new_context: ContextFactory, tmp_path: Path, screen: str, scheme: str
) -> None:
    page = new_context(color_scheme=scheme, **SCREENS[screen]).new_page()
    found: list[str] = []

    def check() -> None:
        page.wait_for_load_state("load")
        found.extend(axe_violations(page))

    page.goto("/")
    search_with(page, resized_jpeg_copy("chelsea.png", tmp_path / "cat.jpg"))
    check()  # results with the query strip
    if screen == "phone":
        page.get_by_text("Search again with another picture, part or filter").click()
        check()  # the strip unfolded
    fake = tmp_path / "scan.jpg"
    fake.write_bytes(b"%PDF-1.4\n%%EOF\n")
    page.get_by_label("Image to search with").set_input_files(fake)
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_role("alert").filter(has_text="could not run")).to_be_focused()
    check()  # a refusal at the top
    open_example_corpus(page)
    check()  # a corpus page, folded on a phone
    page.get_by_role("region", name="Images").get_by_role("link").first.click()
    page.get_by_role("button", name=re.compile("^Zoom to the original")).click()
    check()  # the image page, zoomed
    page.goto(page.url.split("/images/")[0] + "/")
    page.get_by_role("link", name="Find near-duplicates").click()
    check()
    sign_up(page, f"axe23-{screen}-{scheme}")
    path = create_private_corpus(page, "Checked")
    check()  # one's own empty corpus: "Add images" open
    page.get_by_role("button", name=re.compile("^Log out")).click()
    page.goto(path)
    expect(page.get_by_text("Log in to open that page")).to_be_visible()
    check()
    assert found == [], "\n".join(found)
