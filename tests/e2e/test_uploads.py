"""Uploads that survive (issue 23 item 1), on a phone and a desktop, over a slow uplink (the
DevTools protocol's network emulation): files over the size limit or of the wrong kind are
refused before they are sent, the progress says "n of N files, x of y MB", the status card
counts what is stored after each batch, leaving asks first, and the files not yet accepted are
offered again on the corpus page — resumed without choosing them again, nothing stored twice."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Dialog, Page, Request, expect

from tests.e2e.conftest import ContextFactory
from tests.e2e.helpers import (
    SCREENS,
    axe_violations,
    corpus_status,
    create_private_corpus,
    sample_photo,
    sign_up,
    slow_link,
    upload_results,
    wait_until_ready,
)

pytestmark = pytest.mark.e2e

PHOTOS = ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png"]
MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # the live app's CRIER_MAX_UPLOAD_BYTES (the default)


def slow_uplink(page: Page, bits_per_second: float) -> None:
    slow_link(page, up_bits_per_s=bits_per_second, down_bits_per_s=20_000_000)


@pytest.mark.parametrize("screen", SCREENS)
def test_an_interrupted_upload_is_resumed_from_the_corpus_page(
    new_context: ContextFactory, tmp_path: Path, e2e_output_dir: Path, screen: str
) -> None:
    page = new_context(**SCREENS[screen]).new_page()
    sign_up(page, f"gina-{screen}-e2e")
    path = create_private_corpus(page, "Phone photos")
    form = page.locator("form[data-upload-form]")
    assert int(form.get_attribute("data-max-bytes") or 0) == MAX_UPLOAD_BYTES

    huge = tmp_path / "panorama.jpg"  # over the limit: never sent
    with huge.open("wb") as handle:
        handle.truncate(MAX_UPLOAD_BYTES + 1)
    notes = tmp_path / "notes.txt"  # not an image: never sent
    notes.write_text("shopping list")
    sent: list[int] = []

    def on_request(request: Request) -> None:
        if request.method == "POST" and "/images/" in request.url:
            sent.append(len(request.post_data_buffer or b""))

    page.on("request", on_request)
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.type)
        dialog.accept()  # leave the page

    page.on("dialog", on_dialog)

    # Two files a request, over 1 Mbit/s: several seconds a batch.
    form.evaluate("form => { form.dataset.batchFiles = '2'; }")
    slow_uplink(page, 1_000_000)
    files = [sample_photo(name) for name in PHOTOS]
    total_mb = sum(file.stat().st_size for file in files) / 1e6
    page.get_by_label("Images to add").set_input_files([*files, huge, notes])
    page.get_by_role("button", name="Upload").click()

    feedback = upload_results(page)
    too_big = r"panorama\.jpg: the file is 20\.0 MiB; CRIER accepts at most 20\.0 MiB .* not sent"
    expect(feedback).to_contain_text(re.compile(too_big))
    expect(feedback).to_contain_text(re.compile(r"notes\.txt: not an image CRIER takes"))
    progress = page.locator("[data-progress-text]")
    expect(progress).to_contain_text(re.compile(rf"^\d of 5 files, [\d.]+ of {total_mb:.1f} MB$"))
    # The first batch is stored: the status card counts it while the rest is on its way.
    status = corpus_status(page)
    expect(status).to_contain_text(re.compile(r"\b2 images:"), timeout=60_000)
    expect(progress).to_contain_text(re.compile(r"^2 of 5 files"))
    assert axe_violations(page) == []  # progress, refusals and the status mid-upload
    page.screenshot(path=e2e_output_dir / f"23-uploading-{screen}.png")

    # Leaving asks first; the person leaves anyway, mid-upload.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My corpora").click()
    expect(page.get_by_role("heading", name="My corpora", level=1)).to_be_visible()
    assert dialogs == ["beforeunload"]
    assert all(size < MAX_UPLOAD_BYTES for size in sent), sent  # the huge file never went

    # Back on the corpus page: what was stored stays, the rest is offered again.
    slow_uplink(page, 20_000_000)
    page.goto(path)
    resume = page.get_by_role("region", name="An upload was interrupted")
    expect(resume).to_be_visible()
    expect(resume).to_contain_text(re.compile(r"\b[1-3] files? \([\d.]+ MB\) were not uploaded"))
    assert axe_violations(page) == []  # the resume card
    page.screenshot(path=e2e_output_dir / f"23-resume-{screen}.png")
    resume.get_by_role("button", name="Resume the upload").click()
    expect(feedback.get_by_role("status")).to_contain_text(re.compile(r"added, \d already there"))
    expect(resume).to_be_hidden()
    wait_until_ready(page, len(PHOTOS))  # each photo once: nothing stored twice
    page.reload()
    expect(resume).to_be_hidden()  # nothing left to resume
    grid = page.get_by_role("region", name="Images")
    expect(grid.get_by_role("img")).to_have_count(len(PHOTOS))
    if screen == "phone":  # the owner's page too starts its images on the first screen
        page.evaluate("window.scrollTo(0, 0)")
        box = grid.get_by_role("img").first.bounding_box()
        assert box is not None and box["y"] + box["height"] <= 844, box
        page.screenshot(path=e2e_output_dir / "23-own-corpus-phone.png")
