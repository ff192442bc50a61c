"""Swagger UI's "Try it out" at /api/docs/, clicked through as a person would, with what it
pre-fills: a key for a username and password → Authorize → create a corpus → upload photos →
search by file → more like this. Every operation's pre-filled values are valid (examples, not
random strings), optional fields left empty are not sent, ids are small integers."""

from __future__ import annotations

import json
import re
import time

import pytest
import requests
from playwright.sync_api import Locator, Page, expect

from tests.e2e.conftest import Account, ContextFactory, LiveApp
from tests.e2e.helpers import INDEXING_TIMEOUT_MS, sample_photo

pytestmark = pytest.mark.e2e

PHOTOS = ["coffee.png", "chelsea.png", "rocket.jpg"]


def operation(page: Page, operation_id: str) -> Locator:
    """The operation's block, opened, in "Try it out" mode."""
    block = page.locator(f"#operations-v1-{operation_id}")
    block.locator(".opblock-summary").first.click()
    block.get_by_role("button", name="Try it out").click()
    return block


def execute(block: Locator) -> tuple[int, dict]:
    block.get_by_role("button", name="Execute").click()
    status = block.locator(".live-responses-table .response .response-col_status").first
    expect(status).to_have_text(re.compile(r"\d{3}"), timeout=120_000)
    body = block.locator(".live-responses-table .response-col_description pre").first
    text = body.inner_text()
    return int(status.inner_text().strip()), (json.loads(text) if text.strip() else {})


def test_try_it_out_runs_the_whole_workflow_with_what_it_prefills(
    new_context: ContextFactory, live_app: LiveApp, make_account, e2e_output_dir
) -> None:
    account: Account = make_account("swagger-user")
    page = new_context().new_page()
    page.goto("/api/docs/")

    token_block = operation(page, "v1_auth_token_create")
    body = token_block.locator("textarea.body-param__text")
    prefilled = json.loads(body.input_value())
    assert set(prefilled) == {"username", "password"}  # the example: nothing optional sent
    body.fill(json.dumps({"username": account.username, "password": account.password}))
    status, key = execute(token_block)
    assert status == 200, key
    page.screenshot(path=e2e_output_dir / "swagger-token.png", full_page=False)

    page.get_by_role("button", name="Authorize").first.click()
    bearer = page.locator(".dialog-ux .auth-container").filter(has_text="bearerAuth")
    bearer.locator("input").fill(key["token"])
    bearer.locator("button.authorize").click()
    page.locator(".dialog-ux button.btn-done").first.click()

    create = operation(page, "v1_corpora_create")
    status, corpus = execute(create)  # the example body as it is
    assert status == 201, corpus
    corpus_id = corpus["id"]

    upload = operation(page, "v1_corpora_images_create")
    upload.locator('input[placeholder="corpus_id"]').fill(str(corpus_id))
    for _ in PHOTOS[1:]:  # one item is there already
        upload.get_by_role("button", name="Add string item").click()
    files = upload.locator('input[type="file"]')
    for index, name in enumerate(PHOTOS):
        files.nth(index).set_input_files(sample_photo(name))
    upload.screenshot(path=e2e_output_dir / "swagger-upload.png")
    status, report = execute(upload)
    assert status == 202, (report, upload.locator(".curl").first.inner_text())
    assert len(report["accepted"]) == len(PHOTOS), report
    ids = {image["filename"]: image["id"] for image in report["accepted"]}

    headers = {"Authorization": f"Bearer {key['token']}"}
    deadline = time.monotonic() + INDEXING_TIMEOUT_MS / 1000
    while (
        requests.get(
            live_app.url(f"/api/v1/corpora/{corpus_id}/"), headers=headers, timeout=30
        ).json()["status"]
        != "ready"
    ):
        assert time.monotonic() < deadline, "not ready in time"
        time.sleep(0.5)

    search = operation(page, "v1_corpora_search_create")
    search.locator('input[placeholder="corpus_id"]').fill(str(corpus_id))
    search.locator('input[type="file"]').first.set_input_files(sample_photo("rocket.jpg"))
    search.screenshot(path=e2e_output_dir / "swagger-search.png")
    status, found = execute(search)
    assert status == 200, (found, search.locator(".curl").first.inner_text())
    assert found["results"][0]["image_id"] == ids["rocket.jpg"], found

    similar = operation(page, "v1_corpora_search_similar_create")
    similar.locator('input[placeholder="corpus_id"]').fill(str(corpus_id))
    body = similar.locator("textarea.body-param__text")
    example = json.loads(body.input_value())
    assert 1 <= example["image_id"] <= 1000, example  # a small id, not 2**63 - 1
    body.fill(json.dumps({**example, "image_id": ids["coffee.png"]}))
    status, alike = execute(similar)
    assert status == 200, alike
    assert ids["coffee.png"] not in [hit["image_id"] for hit in alike["results"]]
