"""The served site as an operator and an attacker see it: readiness of the live app (gunicorn
and a worker sharing the database cache), the API docs and the admin under the
Content-Security-Policy, and a browser guessing passwords until the login form refuses."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ContextFactory, LiveApp

pytestmark = pytest.mark.e2e

READY_TIMEOUT_S = 60


def get_json(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def test_the_live_app_is_healthy_and_ready(live_app: LiveApp) -> None:
    assert get_json(live_app.url("/healthz")) == (200, {"status": "ok"})
    deadline = time.monotonic() + READY_TIMEOUT_S
    status, body = get_json(live_app.url("/readyz"))
    while status != 200 and time.monotonic() < deadline:
        time.sleep(1)
        status, body = get_json(live_app.url("/readyz"))
    assert status == 200, body
    assert body["checks"]["worker"]["ok"], body  # the qcluster's stats, seen by the web process


def test_a_policy_violation_is_noticed(new_context: ContextFactory) -> None:
    """The guard the other scenarios rely on: an inline script is refused and reported."""
    page = new_context().new_page()
    page.goto("/")
    page.evaluate(
        """() => {
          const script = document.createElement("script");
          script.textContent = "window.crierInline = 1";
          document.head.appendChild(script);
        }"""
    )
    page.wait_for_timeout(200)
    assert page.evaluate("() => window.crierInline") is None
    assert any("script-src" in text for text in new_context.csp_violations)
    new_context.csp_violations.clear()


def test_api_docs_work_under_the_policy(new_context: ContextFactory) -> None:
    page = new_context().new_page()
    page.goto("/api/docs/")
    expect(page.get_by_role("heading", name="CRIER API")).to_be_visible()
    expect(page.get_by_text("/api/v1/corpora/").first).to_be_visible()


def test_admin_login_page_works_under_the_policy(new_context: ContextFactory) -> None:
    page = new_context().new_page()
    page.goto("/admin/login/")
    expect(page.get_by_role("button", name="Log in")).to_be_visible()


def test_guessing_passwords_in_the_browser_is_stopped(new_context: ContextFactory) -> None:
    page = new_context().new_page()
    page.goto("/accounts/login/")
    for attempt in range(11):
        page.get_by_label("Username").fill("nobody-e2e")
        page.get_by_label("Password").fill(f"guess-{attempt}")
        page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("Too many failed sign-ins")).to_be_visible()
    expect(page.get_by_text("try again in 15 minutes")).to_be_visible()
