"""A corpus changes its model without downtime, in the browser (issue 21 item 5): the owner picks
another encoder in "Edit details" and saves; the status card shows the change's progress the way
it shows indexing ("Indexing", "n of N images encoded again", searches still on the old model)
and turns "Ready" by itself once the new index is swapped in. Meanwhile searches keep being
answered — from a second browser tab and from three API clients in threads — and not one answer
is an error. Afterwards the corpus reports the new encoder, a search is answered by the new
index, and only the new encoder's vectors are left.

The live worker does the re-encoding for real (EfficientNet-Lite0 → Lite1, copy search's
description included), so the change takes seconds; the corpus is made large enough for the
searches to overlap it.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests
from django.conf import settings
from PIL import Image
from playwright.sync_api import Page, Response, expect

from corpora.examples import SAMPLE_PHOTOS
from tests.e2e.conftest import ContextFactory, LiveApp
from tests.e2e.helpers import (
    PASSWORD,
    api_token,
    corpus_status,
    create_private_corpus,
    edited_copy,
    filenames_in,
    resized_jpeg_copy,
    sample_photo,
    search_with,
    sign_up,
    upload_images,
)
from tests.processes import manage

pytestmark = pytest.mark.e2e

OLD, NEW = "efficientnet-lite0", "efficientnet-lite1"
NEW_LABEL = "EfficientNet-Lite1 (slower)"
# Every sample photo, plus an edited, a smaller and a turned copy of each but the cat (the
# query): 69 images, three of the worker's batches of 32, so the change lasts a few seconds.
EDITED = [name for name in SAMPLE_PHOTOS if name != "chelsea.png"]
IMAGE_COUNT = len(SAMPLE_PHOTOS) + 3 * len(EDITED)
# Two encodings of 69 images (Lite0, then Lite1 with copy search's features) on a shared
# 2-core machine: wait generously.
WORK_TIMEOUT_S = 400
API_SEARCHERS = 3

# Runs before the corpus page's own scripts: every state the status card shows is written down,
# so the test can tell what a person saw between two of its own steps.
RECORD_STATUS_CARD = """
window.__statusCard = [];
document.addEventListener("DOMContentLoaded", () => {
  const card = document.querySelector("[data-corpus-status]");
  if (!card) return;
  const note = () => {
    const change = card.querySelector("[data-encoder-change]");
    const state = {
      status: card.querySelector("[data-field=status]").textContent.trim(),
      shown: Boolean(change && !change.hidden),
      done: change ? change.querySelector("[data-field=reencoded_count]").textContent.trim() : "",
    };
    const last = window.__statusCard[window.__statusCard.length - 1];
    if (!last || JSON.stringify(last) !== JSON.stringify(state)) window.__statusCard.push(state);
  };
  note();
  new MutationObserver(note).observe(card, {
    subtree: true, childList: true, characterData: true, attributes: true,
  });
});
"""


class ApiSearcher(threading.Thread):
    """Searches the corpus through the API until told to stop, as a script would: by file
    (odd numbers) or "more like this" (even). Every answer is kept: (sent at, status, index
    version)."""

    def __init__(self, number: int, base_url: str, token: str, corpus_id: int, image_id: int):
        super().__init__(daemon=True)
        self.number, self.base_url = number, base_url
        self.corpus_id, self.image_id = corpus_id, image_id
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token {token}"
        self.query = sample_photo("chelsea.png").read_bytes()
        self.answers: list[tuple[float, int, str]] = []
        self.errors: list[BaseException] = []
        self.refusals: list[str] = []  # what a non-2xx answer said
        self.stop = threading.Event()

    def run(self) -> None:
        url = f"{self.base_url}/api/v1/corpora/{self.corpus_id}/search/"
        try:
            while not self.stop.is_set():
                sent = time.monotonic()
                if self.number % 2:
                    files = {"image": ("query.png", self.query, "image/png")}
                    response = self.session.post(url, files=files, data={"k": 5}, timeout=120)
                else:
                    body = {"image_id": self.image_id, "k": 5}
                    response = self.session.post(url + "similar/", json=body, timeout=120)
                version = response.json().get("index_version", "") if response.ok else ""
                self.answers.append((sent, response.status_code, version))
                if not response.ok:
                    self.refusals.append(f"{response.request.url}: {response.text[:300]}")
        except BaseException as exc:  # a refused connection or a timeout fails the test too
            self.errors.append(exc)


def _api(base_url: str, token: str):
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"

    def get(path: str) -> dict:
        response = session.get(f"{base_url}/api/v1/{path}", timeout=60)
        assert response.status_code == 200, (path, response.status_code, response.text[:500])
        return response.json()

    return session, get


def _stored_vectors(live_app: LiveApp, corpus_id: int) -> dict[str, int]:
    """Encoder → how many image vectors the corpus has stored, read from the app's database."""
    code = (
        "import json; from collections import Counter; from search.models import ImageVector; "
        "print(json.dumps(Counter(ImageVector.objects.filter("
        f"corpus_id={corpus_id}).values_list('encoder', flat=True))))"
    )
    done = subprocess.run(
        manage("shell", "-c", code),
        cwd=settings.BASE_DIR,
        env=live_app.env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _turned_copy(name: str, target: Path) -> Path:
    with Image.open(sample_photo(name)) as image:
        image.convert("RGB").transpose(Image.Transpose.ROTATE_90).save(target)
    return target


def _wait_until_ready(page: Page, image_count: int) -> None:
    status = corpus_status(page)
    expect(status.get_by_role("status")).to_have_text("Ready", timeout=WORK_TIMEOUT_S * 1000)
    expect(status).to_contain_text(f"{image_count} images: {image_count} searchable, 0 waiting")


def test_the_owner_changes_the_model_while_searches_go_on(
    new_context: ContextFactory, live_app: LiveApp, e2e_output_dir: Path, tmp_path: Path
) -> None:
    context = new_context()
    page = context.new_page()
    sign_up(page, "gina-e2e")

    # A private corpus on the site's default model, every image searchable.
    path = create_private_corpus(page, "Model change")
    corpus_id = int(path.strip("/").split("/")[-1])
    files = [sample_photo(name) for name in SAMPLE_PHOTOS]
    for name in EDITED:
        stem = Path(name).stem
        files.append(edited_copy(name, tmp_path / f"edited-{stem}.jpg"))
        files.append(resized_jpeg_copy(name, tmp_path / f"small-{stem}.jpg", scale=0.6))
        files.append(_turned_copy(name, tmp_path / f"turned-{stem}.png"))
    upload_images(page, files)
    _wait_until_ready(page, IMAGE_COUNT)

    token = api_token(live_app.base_url, "gina-e2e", PASSWORD)
    _, get = _api(live_app.base_url, token)
    before = get(f"corpora/{corpus_id}/")
    assert before["encoder"] == OLD and before["index_encoder"] == OLD, before
    assert before["reencoded_count"] is None and before["indexed_count"] == IMAGE_COUNT
    old_version = before["index_version"]
    some_image = get(f"corpora/{corpus_id}/images/")["results"][0]["id"]

    # Searchers: API clients in threads, and a second tab of the owner's browser.
    searchers = [
        ApiSearcher(n, live_app.base_url, token, corpus_id, some_image)
        for n in range(API_SEARCHERS)
    ]
    for searcher in searchers:
        searcher.start()
    query = resized_jpeg_copy("chelsea.png", tmp_path / "cat.jpg")
    tab = context.new_page()
    tab_answers: list[tuple[str, int]] = []

    def on_document(response: Response) -> None:
        if response.request.resource_type == "document":
            tab_answers.append((response.url, response.status))

    tab.on("response", on_document)
    tab.goto(path)
    assert filenames_in(search_with(tab, query))[0] == "chelsea.png"
    deadline = time.monotonic() + 60
    while min(len(s.answers) for s in searchers) < 1 and time.monotonic() < deadline:
        time.sleep(0.1)

    # The owner picks the other model in "Edit details" and saves. The page the browser is sent
    # back to is fetched right away: it must already show the change running.
    page.add_init_script(RECORD_STATUS_CARD)
    page.goto(path)
    page.get_by_text("Edit details").click()
    page.get_by_label("Model", exact=True).select_option(label=NEW_LABEL)
    with page.expect_response(
        lambda r: r.request.method == "GET" and r.url.endswith(path)
    ) as landed:
        page.get_by_role("button", name="Save changes").click()
    submitted = time.monotonic()
    html = landed.value.text()
    assert "<p data-encoder-change>Changing the model to" in html, "no progress line shown"
    expect(page.get_by_role("status").filter(has_text="“Model change” saved")).to_be_visible()
    change = page.locator("[data-encoder-change]")

    # While the new model works, the tab searches again and again (each a fresh results page).
    tab_searches = 0
    changing = True
    while changing and time.monotonic() < submitted + WORK_TIMEOUT_S:
        tab.goto(path)
        assert filenames_in(search_with(tab, query))[0] == "chelsea.png"
        tab_searches += 1
        changing = get(f"corpora/{corpus_id}/")["reencoded_count"] is not None
    assert not changing, f"the change did not finish in {WORK_TIMEOUT_S} s"
    change_seconds = time.monotonic() - submitted

    # The corpus page turned "Ready" by itself; the progress line is gone.
    _wait_until_ready(page, IMAGE_COUNT)
    expect(change).to_be_hidden()
    expect(page.locator("[data-corpus-status]")).to_contain_text(NEW)
    page.screenshot(path=e2e_output_dir / "21-encoder-changed.png", full_page=True)
    seen = page.evaluate("window.__statusCard")
    assert seen[0]["status"] == "Indexing" and seen[0]["shown"], seen
    assert int(seen[0]["done"]) < IMAGE_COUNT, seen
    assert seen[-1]["status"] == "Ready" and not seen[-1]["shown"], seen
    counts = [int(state["done"]) for state in seen if state["shown"]]
    assert counts == sorted(counts), f"progress went backwards: {seen}"

    # A few more answers from every API client, now from the new index.
    answered = [len(s.answers) for s in searchers]
    deadline = time.monotonic() + 120
    while any(len(s.answers) < n + 2 for s, n in zip(searchers, answered, strict=True)):
        assert time.monotonic() < deadline, "the API searchers stopped answering"
        time.sleep(0.1)
    for searcher in searchers:
        searcher.stop.set()
    for searcher in searchers:
        searcher.join(timeout=120)

    # Not one search failed, in the API or in the browser.
    assert [e for s in searchers for e in s.errors] == []
    answers = [answer for s in searchers for answer in s.answers]
    statuses = sorted({status for _, status, _ in answers})
    assert statuses == [200], (statuses, [r for s in searchers for r in s.refusals])
    assert tab_answers and all(status < 400 for _, status in tab_answers), tab_answers
    assert tab_searches >= 1
    # Answers sent after the owner saved came from the old index, then from the new one.
    after = get(f"corpora/{corpus_id}/")
    new_version = after["index_version"]
    assert new_version != old_version
    versions = [version for sent, _, version in answers if sent > submitted]
    assert old_version in versions and new_version in versions, versions
    during = versions.count(old_version)
    print(
        f"change took ~{change_seconds:.1f} s; answered meanwhile: {during} API searches "
        f"from the old index, {tab_searches} browser searches; status card: {seen}"
    )

    # The swap: the corpus reports the new model, a search is answered by its index, and the
    # old model's vectors are gone.
    assert after["encoder"] == NEW and after["index_encoder"] == NEW, after
    assert after["status"] == "ready" and after["indexed_count"] == IMAGE_COUNT, after
    session, _ = _api(live_app.base_url, token)
    found = session.post(
        f"{live_app.base_url}/api/v1/corpora/{corpus_id}/search/",
        files={"image": ("cat.jpg", query.read_bytes(), "image/jpeg")},
        data={"k": 3},
        timeout=120,
    )
    assert found.status_code == 200, found.text[:500]
    assert found.json()["index_version"] == new_version
    assert found.json()["results"][0]["filename"] == "chelsea.png"
    tab.goto(path)
    assert filenames_in(search_with(tab, query))[0] == "chelsea.png"
    assert _stored_vectors(live_app, corpus_id) == {NEW: IMAGE_COUNT}
