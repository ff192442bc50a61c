"""Scenarios 2–5: a person's own private corpus, from sign-up to deletion.

Scenario 2 builds the corpus through the pages; the later scenarios reuse it (they build their
own the same way when run alone, e.g. with ``-k more_like_this``). They run in file order.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.helpers import (
    NewContext,
    action_name,
    broken_image,
    corpus_status,
    create_private_corpus,
    edited_copy,
    filenames_in,
    resized_jpeg_copy,
    results_list,
    sample_photo,
    search_with,
    sign_up,
    two_photos,
    upload_images,
    upload_results,
    wait_until_ready,
)

pytestmark = pytest.mark.e2e

PHOTOS = ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png"]
BROKEN = "broken.jpg"


@dataclass
class Owner:
    """Alice, logged in in her own browser context, and the corpus she made (once she has)."""

    context: BrowserContext
    page: Page
    username: str
    corpus_path: str | None = None
    corpus_name: str = ""
    image_paths: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def alice(new_context: NewContext) -> Iterator[Owner]:
    context = new_context()
    page = context.new_page()
    sign_up(page, "alice-e2e")
    yield Owner(context=context, page=page, username="alice-e2e")


_corpus_names = (f"Holiday photos {n}" for n in itertools.count(1))


def upload_and_index(page: Page, folder: Path) -> None:
    """Uploads the photos plus one broken file on the corpus page; waits until indexed."""
    broken = broken_image(folder / BROKEN)
    upload_images(page, [*(sample_photo(name) for name in PHOTOS), broken])
    feedback = upload_results(page)
    expect(feedback.get_by_role("status")).to_have_text(
        f"{len(PHOTOS)} added, 0 already there, 1 rejected."
    )
    wait_until_ready(page, len(PHOTOS))


def remember_corpus(owner: Owner, path: str, name: str) -> None:
    owner.corpus_path = path
    owner.corpus_name = name
    owner.page.goto(path)  # the grid shows the new images after a reload
    grid = owner.page.get_by_role("region", name="Images")
    expect(grid.get_by_role("img")).to_have_count(len(PHOTOS))
    owner.image_paths = [img.get_attribute("src") or "" for img in grid.get_by_role("img").all()]


@pytest.fixture
def alice_corpus(alice: Owner, tmp_path: Path) -> Owner:
    """Alice's indexed private corpus: scenario 2's, or a new one when it is not there."""
    if alice.corpus_path is None:
        name = next(_corpus_names)
        path = create_private_corpus(alice.page, name)
        upload_and_index(alice.page, tmp_path)
        remember_corpus(alice, path, name)
    return alice


def test_sign_up_upload_wait_for_indexing_and_search_a_private_corpus(
    alice: Owner, tmp_path: Path, e2e_output_dir: Path
) -> None:
    page = alice.page
    name = next(_corpus_names)
    path = create_private_corpus(page, name, "Pictures from the trip.")
    expect(page.get_by_role("status").filter(has_text="created")).to_be_visible()
    expect(corpus_status(page)).to_contain_text("Empty")

    broken = broken_image(tmp_path / BROKEN)
    upload_images(page, [*(sample_photo(name) for name in PHOTOS), broken])

    feedback = upload_results(page)
    expect(feedback.get_by_role("status")).to_have_text(
        f"{len(PHOTOS)} added, 0 already there, 1 rejected."
    )
    lines = feedback.get_by_role("listitem")
    expect(lines).to_have_count(len(PHOTOS) + 1)
    expect(lines.filter(has_text=BROKEN)).to_contain_text(re.compile(r"^\s*rejected"))
    for photo in PHOTOS:
        expect(lines.filter(has_text=photo)).to_contain_text(re.compile(r"^\s*added"))

    # No reload: the page polls the status by itself until the worker has indexed everything,
    # then redraws the grid, so the new images show without their "Pending" badges.
    wait_until_ready(page, len(PHOTOS))
    expect(corpus_status(page)).to_contain_text("0 failed")
    grid = page.get_by_role("region", name="Images")
    expect(grid.get_by_role("img")).to_have_count(len(PHOTOS))
    expect(grid.get_by_text("Pending")).to_have_count(0)
    expect(feedback.get_by_role("status")).to_contain_text(f"{len(PHOTOS)} added")  # kept
    page.screenshot(path=e2e_output_dir / "2a-uploaded-and-ready.png", full_page=True)
    remember_corpus(alice, path, name)

    query = edited_copy("coffee.png", tmp_path / "my-coffee-edited.jpg")
    results = search_with(page, query)
    expect(results.get_by_role("listitem")).to_have_count(len(PHOTOS))
    assert filenames_in(results)[0] == "coffee.png"
    page.screenshot(path=e2e_output_dir / "2-private-corpus-search.png", full_page=True)


def test_more_like_this_leaves_the_image_itself_out(
    alice_corpus: Owner, e2e_output_dir: Path
) -> None:
    page = alice_corpus.page
    page.goto(alice_corpus.corpus_path or "")
    grid = page.get_by_role("region", name="Images")
    grid.get_by_role("link", name=action_name("More like this", "rocket.jpg")).click()

    expect(page.get_by_role("heading", name="More like “rocket.jpg”", level=1)).to_be_visible()
    expect(page.get_by_role("img", name="Query image: rocket.jpg")).to_be_visible()
    results = results_list(page)
    expect(results.get_by_role("listitem")).to_have_count(len(PHOTOS) - 1)
    found = filenames_in(results)
    assert "rocket.jpg" not in found
    assert sorted(found) == sorted(set(PHOTOS) - {"rocket.jpg"})
    page.screenshot(path=e2e_output_dir / "3-more-like-this.png", full_page=True)


def test_dragging_over_the_preview_searches_that_part_only(
    alice_corpus: Owner, tmp_path: Path, e2e_output_dir: Path
) -> None:
    page = alice_corpus.page
    page.goto(alice_corpus.corpus_path or "")
    page.get_by_label("Image to search with").set_input_files(
        two_photos("coffee.png", "rocket.jpg", tmp_path / "coffee-and-rocket.jpg")
    )
    preview = page.get_by_role("img", name="Preview of coffee-and-rocket.jpg")
    expect(preview).to_be_visible()
    box = preview.bounding_box()
    assert box is not None
    # Drag from just right of the middle to the bottom right corner: the rocket's half.
    page.mouse.move(box["x"] + box["width"] * 0.52, box["y"] + box["height"] * 0.02)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.8, box["y"] + box["height"] * 0.5, steps=5)
    page.mouse.move(box["x"] + box["width"] * 0.99, box["y"] + box["height"] * 0.98, steps=5)
    page.mouse.up()
    region = page.get_by_label("Part of the image")
    expect(region).to_be_visible()  # the selection opened the details with its numbers
    left, top, right, bottom = (float(v) for v in region.input_value().split(","))
    assert 0.5 < left < 0.55 and top < 0.05 and right > 0.97 and bottom > 0.95
    page.screenshot(path=e2e_output_dir / "3c-region-selected.png", full_page=True)

    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_role("img", name="The part of the image you searched with")).to_be_visible()
    assert filenames_in(results_list(page))[0] == "rocket.jpg"

    # "Use the whole image" clears the selection.
    page.get_by_text("Search with a part of the image").click()
    page.get_by_label("Part of the image").fill("0.1,0.1,0.4,0.9")
    page.get_by_role("button", name="Use the whole image").click()
    expect(page.get_by_label("Part of the image")).to_have_value("")


def test_near_duplicates_are_grouped_and_one_can_be_deleted(
    alice_corpus: Owner, tmp_path: Path, e2e_output_dir: Path
) -> None:
    page = alice_corpus.page
    page.goto(alice_corpus.corpus_path or "")
    copy = resized_jpeg_copy("coffee.png", tmp_path / "coffee-again.jpg", scale=0.75, quality=90)
    upload_images(page, [copy])
    expect(upload_results(page).get_by_role("status")).to_have_text(
        "1 added, 0 already there, 0 rejected."
    )
    # A keyboard user on the grid stays where they were when it redraws with the new image.
    grid = page.get_by_role("region", name="Images")
    more_like_rocket = grid.get_by_role("link", name=action_name("More like this", "rocket.jpg"))
    more_like_rocket.focus()
    wait_until_ready(page, len(PHOTOS) + 1)
    expect(grid.get_by_role("img")).to_have_count(len(PHOTOS) + 1)
    expect(more_like_rocket).to_be_focused()

    page.get_by_role("link", name="Find near-duplicates").click()
    expect(page.get_by_role("heading", name=re.compile("^Near-duplicates in"))).to_be_visible()
    page.get_by_label("Similarity at least").fill("0.85")
    page.get_by_role("button", name="Find near-duplicates").click()
    expect(page.get_by_role("heading", name="1 group of near-duplicates")).to_be_visible()
    group = page.get_by_role("region", name=re.compile(r"^Group 1, similarity up to 0\.9"))
    expect(group.get_by_role("img")).to_have_count(2)
    assert group.get_by_role("img").evaluate_all("els => els.map(e => e.alt)") == [
        "coffee.png",
        "coffee-again.jpg",
    ]  # the earlier upload first
    page.screenshot(path=e2e_output_dir / "3b-near-duplicates.png", full_page=True)

    group.get_by_role("link", name=action_name("Delete", "coffee-again.jpg")).click()
    page.get_by_role("button", name="Move the image to the trash").click()
    expect(page.get_by_role("heading", name=re.compile("^Near-duplicates in"))).to_be_visible()
    expect(page.get_by_text("No near-duplicates at this threshold.")).to_be_visible()
    expect(page.get_by_label("Similarity at least")).to_have_value("0.85")


def test_another_user_cannot_open_the_private_corpus(
    alice_corpus: Owner, new_context: NewContext, e2e_output_dir: Path
) -> None:
    context = new_context()
    page = context.new_page()
    sign_up(page, "bob-e2e")

    response = page.goto(alice_corpus.corpus_path or "")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    expect(page.get_by_text(alice_corpus.corpus_name)).to_have_count(0)
    for image_path in alice_corpus.image_paths:
        assert context.request.get(image_path).status == 404, image_path
    corpus_id = re.search(r"/corpora/(\d+)/", alice_corpus.corpus_path or "")
    assert corpus_id
    assert context.request.get(f"/search/{corpus_id[1]}/").status == 404
    page.screenshot(path=e2e_output_dir / "4-other-user-404.png", full_page=True)


def test_deleting_the_corpus_removes_it_and_its_images(
    alice_corpus: Owner, e2e_output_dir: Path
) -> None:
    page, name = alice_corpus.page, alice_corpus.corpus_name
    assert alice_corpus.image_paths
    for image_path in alice_corpus.image_paths:  # the owner can see them before
        assert alice_corpus.context.request.get(image_path).status == 200, image_path

    page.goto("/corpora/")
    page.get_by_role("link", name=action_name("Delete", name)).click()
    expect(page.get_by_role("heading", name=f"Delete “{name}”?")).to_be_visible()
    page.get_by_role("button", name="Move the corpus to the trash").click()

    expect(page.get_by_role("heading", name="My corpora", level=1)).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="moved to the trash")).to_contain_text(name)
    expect(page.get_by_role("link", name=name, exact=True)).to_have_count(0)
    path, alice_corpus.corpus_path = alice_corpus.corpus_path or "", None
    for image_path in alice_corpus.image_paths:
        assert alice_corpus.context.request.get(image_path).status == 404, image_path
    assert alice_corpus.context.request.get(path).status == 404
    page.screenshot(path=e2e_output_dir / "5-corpus-deleted.png", full_page=True)
