"""End-to-end fixtures: the real app (gunicorn, as ``make run`` serves it, + a django-q worker)
against the pytest-django test database, and a headless Chromium driven by Playwright. Every
page the browser opens must obey the site's Content-Security-Policy: a violation fails the test.

The app runs in subprocesses with ``crier_site.settings`` (real background tasks, not the test
settings' inline ones), its own temporary data directory and the shared prepared-model
directory. Their logs and each scenario's screenshots go to ``test-output/e2e/``.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connections
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    expect,
    sync_playwright,
)
from pytest_django import DjangoDbBlocker

from tests.processes import (
    Service,
    app_env,
    database_url,
    free_port,
    gunicorn,
    log_tail,
    manage,
    start_service,
    stop_service,
)

CHROMIUM = Path(os.environ.get("CRIER_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
SERVER_START_TIMEOUT_S = 120
SEED_TIMEOUT_S = 600
# The first request that encodes a query loads TensorFlow in the server process: be patient.
NAVIGATION_TIMEOUT_MS = 120_000
ACTION_TIMEOUT_MS = 30_000
EXPECT_TIMEOUT_MS = 30_000

OUTPUT_DIR = Path(settings.BASE_DIR) / "test-output" / "e2e"
# Read at collection time, before any test database exists: the name to never hand the app.
DEVELOPMENT_DB_NAME = settings.DATABASES["default"]["NAME"]


# --- ordering ----------------------------------------------------------------------------------


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the e2e tests last (stable order otherwise), after pytest-django's own ordering.

    The live server writes to the test database: the other tests then never see its rows, and
    no transactional test flushes the database under the running server.
    """
    items.sort(key=lambda item: item.get_closest_marker("e2e") is not None)


# --- the live app ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LiveApp:
    base_url: str
    data_dir: Path
    log_dir: Path
    env: dict[str, str]  # the app's environment, for manage.py commands run beside it

    def url(self, path: str) -> str:
        return self.base_url + path


@dataclass(frozen=True)
class Account:
    username: str
    password: str


def wait_until_serving(url: str, server: Service, worker: Service) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    last_error = "no answer yet"
    while time.monotonic() < deadline:
        for service in (server, worker):
            if service.process.poll() is not None:
                raise RuntimeError(
                    f"The e2e {service.name} exited with code {service.process.returncode} "
                    f"while starting.\n{log_tail(service.log_path)}"
                )
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                if response.status == 200:
                    return
                last_error = f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            last_error = f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            last_error = str(exc)
        time.sleep(0.5)
    raise RuntimeError(
        f"The e2e server did not answer {url} with 200 within {SERVER_START_TIMEOUT_S} s "
        f"(last: {last_error}).\n{log_tail(server.log_path)}"
    )


@pytest.fixture(scope="session")
def e2e_output_dir() -> Path:
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    return OUTPUT_DIR


@pytest.fixture(scope="session")
def e2e_database_url(django_db_setup: None, django_db_blocker: DjangoDbBlocker) -> Iterator[str]:
    """``DATABASE_URL`` of the pytest-django test database, for the app's subprocesses.

    pytest-django only creates the test databases that collected tests ask for (``db``,
    ``django_db``, ...): when only e2e tests run, nobody asks, so this creates it (and drops
    it at the end) — the subprocesses must never see the development database.
    """
    from django.test.utils import setup_databases, teardown_databases

    created = None
    with django_db_blocker.unblock():
        if connections["default"].settings_dict["NAME"] == DEVELOPMENT_DB_NAME:
            created = setup_databases(verbosity=0, interactive=False, aliases={"default"})
        db = connections["default"].settings_dict
        if db["NAME"] == DEVELOPMENT_DB_NAME:
            raise RuntimeError("No test database: refusing to serve the development database.")
        url = database_url(db)
        # Nothing in this process may hold a lock on the database the subprocesses write to.
        connections.close_all()
    try:
        yield url
    finally:
        with django_db_blocker.unblock():
            if connections["default"].vendor == "sqlite":
                # The stopped subprocesses leave SQLite's write-ahead log behind; this process,
                # closing the last connection, folds it back so no -wal/-shm files outlive the
                # test database when it is deleted.
                with connections["default"].cursor() as cursor:
                    cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                connections["default"].close()
            if created is not None:
                teardown_databases(created, verbosity=0)


@pytest.fixture(scope="session")
def live_app(
    e2e_database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    e2e_output_dir: Path,
) -> Iterator[LiveApp]:
    """Seeds the example corpus, then serves the app with a real worker until the session ends."""
    data_dir = tmp_path_factory.mktemp("e2e-data")
    log_dir = e2e_output_dir
    env = app_env(db_url=e2e_database_url, data_dir=data_dir)

    # Seeded here, not by a test: a transactional test may have flushed the database before.
    seed_log = log_dir / "seed.log"
    with seed_log.open("wb") as log:
        try:
            seeded = subprocess.run(
                manage("seed_example_corpus"),
                cwd=settings.BASE_DIR,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=SEED_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise RuntimeError(
                f"seed_example_corpus took over {SEED_TIMEOUT_S} s.\n{log_tail(seed_log)}"
            ) from None
    if seeded.returncode != 0:
        raise RuntimeError(
            f"seed_example_corpus failed with code {seeded.returncode}.\n{log_tail(seed_log)}"
        )

    port = free_port()
    services: list[Service] = []
    try:
        services.append(start_service("worker", manage("qcluster"), env=env, log_dir=log_dir))
        services.append(start_service("server", gunicorn(port), env=env, log_dir=log_dir))
        app = LiveApp(
            base_url=f"http://127.0.0.1:{port}", data_dir=data_dir, log_dir=log_dir, env=env
        )
        wait_until_serving(app.url("/"), server=services[1], worker=services[0])
        yield app
    finally:
        for service in reversed(services):
            stop_service(service)


@pytest.fixture(scope="session")
def make_account(live_app: LiveApp) -> Callable[[str], Account]:
    """Creates a user of the live app (through manage.py, as an admin would), for the API
    clients that sign in with a username and password."""

    def make(username: str) -> Account:
        account = Account(username=username, password=f"{username}-Correct-horse-battery-9")
        code = (
            "from django.contrib.auth import get_user_model; "
            f"get_user_model().objects.create_user(username={account.username!r}, "
            f"password={account.password!r})"
        )
        subprocess.run(
            manage("shell", "-c", code),
            cwd=settings.BASE_DIR,
            env=live_app.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=120,
            check=True,
        )
        return account

    return make


# --- the browser -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def chromium_executable() -> Path:
    if not CHROMIUM.is_file():
        pytest.fail(
            f"The e2e tests need Debian's Chromium at {CHROMIUM}, which is missing. Install it "
            "with `make browser` (or as root: apt-get install -y chromium), or deselect the "
            'browser tests with -m "not e2e".',
            pytrace=False,
        )
    return CHROMIUM


@pytest.fixture(scope="session")
def playwright(chromium_executable: Path, live_app: LiveApp) -> Iterator[Playwright]:
    # Fixtures start in argument order: a missing browser fails before the app starts.
    # Playwright's sync API keeps an asyncio loop running in this thread, and Django then refuses
    # database calls here: the live app (which touches the database) must be set up first.
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(playwright: Playwright, chromium_executable: Path) -> Iterator[Browser]:
    browser = playwright.chromium.launch(
        executable_path=str(chromium_executable), headless=True, args=CHROMIUM_ARGS
    )
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    yield browser
    browser.close()


@dataclass
class ContextFactory:
    browser: Browser
    live_app: LiveApp
    opened: list[BrowserContext]
    csp_violations: list[str] = field(default_factory=list)

    def __call__(self, **options: Any) -> BrowserContext:
        """A fresh browser context (its own cookies: a separate person) on the live app;
        ``options`` go to Playwright's ``new_context`` (``color_scheme="dark"``, permissions,
        ``viewport``: 1280 × 900 unless given; see helpers.PHONE)."""
        options.setdefault("viewport", {"width": 1280, "height": 900})
        context = self.browser.new_context(base_url=self.live_app.base_url, **options)
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
        context.on("page", self._watch_policy)
        self.opened.append(context)
        return context

    def _watch_policy(self, page: Page) -> None:
        """Chromium reports each Content-Security-Policy violation as a console error."""

        def on_console(message: ConsoleMessage) -> None:
            if "Content Security Policy" in message.text:
                self.csp_violations.append(f"{page.url}: {message.text}")

        page.on("console", on_console)

    def close_all(self) -> None:
        for context in self.opened:
            context.close()
        self.opened.clear()


@pytest.fixture(scope="module")
def new_context(browser: Browser, live_app: LiveApp) -> Iterator[ContextFactory]:
    factory = ContextFactory(browser=browser, live_app=live_app, opened=[])
    yield factory
    factory.close_all()


@pytest.fixture(autouse=True)
def no_content_security_policy_violations(request: pytest.FixtureRequest) -> Iterator[None]:
    """Whatever a scenario does in the browser, the pages obey the site's policy."""
    yield
    if "new_context" not in request.fixturenames:
        return
    factory: ContextFactory = request.getfixturevalue("new_context")
    violations, factory.csp_violations[:] = list(factory.csp_violations), []
    assert not violations, "Content-Security-Policy violations:\n" + "\n".join(violations)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[CALL_FAILED] = report.failed
    return report


CALL_FAILED = pytest.StashKey[bool]()


@pytest.fixture(autouse=True)
def screenshot_on_failure(request: pytest.FixtureRequest, e2e_output_dir: Path) -> Iterator[None]:
    """When a scenario fails, every page open in the browser is saved next to the logs."""
    yield
    if not request.node.stash.get(CALL_FAILED, False) or "browser" not in request.fixturenames:
        return
    browser: Browser = request.getfixturevalue("browser")
    pages = [page for context in browser.contexts for page in context.pages]
    for number, page in enumerate(pages, start=1):
        # A page that cannot be captured must not hide the real failure.
        with contextlib.suppress(Exception):
            page.screenshot(
                path=e2e_output_dir / f"{request.node.name}-failure-{number}.png", full_page=True
            )
