"""Failed sign-ins are limited per client address and per username, on the login page, the
admin login and the token API; sign-ups per address; the client address is never taken from a
header the client can forge unless proxies are trusted."""

from __future__ import annotations

import pytest
from django.http import HttpRequest
from django.urls import reverse
from rest_framework.test import APIClient
from rest_framework.throttling import BaseThrottle

from accounts.throttling import AttemptLimit, client_address, parse_rate
from corpora.models import Visibility
from search.api import AnonymousSearchThrottle
from tests.factories import make_corpus

PASSWORD = "a-long-passphrase-1"  # the ``user`` fixture's


@pytest.fixture
def tight_limits(settings):
    settings.CRIER_SIGNIN_FAILURES_PER_ADDRESS = "5/15m"
    settings.CRIER_SIGNIN_FAILURES_PER_USERNAME = "3/15m"
    settings.CRIER_SIGNUP_RATE = "2/h"


def login(client, username: str, password: str, address: str = "10.0.0.1"):
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address
    )


def token(api: APIClient, username: str, password: str, address: str = "10.0.0.1"):
    return api.post(
        reverse("api:token"),
        {"username": username, "password": password},
        format="json",
        REMOTE_ADDR=address,
    )


def test_rates_parse_with_a_multiplier():
    assert parse_rate("10/15m") == (10, 900)
    assert parse_rate("30/minute") == (30, 60)
    assert parse_rate("2/h") == (2, 3600)
    with pytest.raises(ValueError, match="10/15m"):
        parse_rate("ten per minute")


def test_attempt_limit_counts_a_sliding_window():
    limit = AttemptLimit("test", count=2, seconds=60)
    assert limit.wait("x") == 0
    first, second = limit.claim("x"), limit.claim("x")
    assert first and second and first != second
    assert limit.claim("x") is None
    assert 55 <= limit.wait("x") <= 60
    assert limit.wait("y") == 0
    limit.release(first)  # a successful sign-in gives its slot back
    assert limit.wait("x") == 0
    assert limit.claim("x") is not None


def test_attempt_limit_window_slides_across_periods(monkeypatch):
    """Attempts of the previous period still count until they are ``seconds`` old."""
    limit = AttemptLimit("test", count=2, seconds=60)
    clock = [6000.0 + 50]  # 10 s before the period ends
    monkeypatch.setattr("accounts.throttling.time.time", lambda: clock[0])
    assert limit.claim("x") and limit.claim("x")
    clock[0] += 20  # the next period: both still count
    assert limit.claim("x") is None
    assert limit.wait("x") == 40
    clock[0] += 41
    assert limit.wait("x") == 0
    assert limit.claim("x") and limit.claim("x") and limit.claim("x") is None


@pytest.mark.django_db
def test_login_page_refuses_even_the_right_password_after_failures_for_a_username(
    client, user, tight_limits
):
    # Each failure from a different address: the per-username limit alone stops them.
    codes = [login(client, "alice", "wrong", address=f"10.0.1.{n}").status_code for n in range(3)]
    assert codes == [200, 200, 200]
    response = login(client, "ALICE", PASSWORD, address="10.0.1.99")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 800
    assert b"Too many failed sign-ins" in response.content
    assert b"try again in 15 minutes" in response.content
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_login_page_limits_one_address_trying_many_usernames(client, user, tight_limits):
    for n in range(5):
        assert login(client, f"someone{n}", "wrong").status_code == 200
    assert login(client, "alice", PASSWORD).status_code == 429
    # Another address still signs in.
    response = login(client, "alice", PASSWORD, address="10.9.9.9")
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)


@pytest.mark.django_db
def test_successful_sign_ins_do_not_count(client, user, tight_limits):
    for _ in range(6):
        assert login(client, "alice", PASSWORD).status_code == 302
        client.logout()


@pytest.mark.django_db
def test_token_api_answers_429_with_the_wait_and_shares_the_count_with_the_page(
    client, user, tight_limits
):
    api = APIClient()
    assert login(client, "alice", "wrong").status_code == 200
    assert token(api, "alice", "wrong").status_code == 401
    assert token(api, "alice", "wrong", address="10.0.0.2").status_code == 401
    response = token(api, "alice", PASSWORD, address="10.0.0.3")
    assert response.status_code == 429
    error = response.json()["error"]
    assert error["code"] == "throttled"
    assert 800 < error["retry_after_seconds"] <= 900
    assert response["Retry-After"] == str(error["retry_after_seconds"])
    assert "try again in 15 minutes" in error["message"]


@pytest.mark.django_db
def test_token_api_still_works_and_rejects_non_object_bodies(user):
    api = APIClient()
    response = token(api, "alice", PASSWORD)
    assert response.status_code == 200 and response.json()["token"].startswith("crier_")
    assert api.post(reverse("api:token"), [1, 2], format="json").status_code == 400


@pytest.mark.django_db
def test_admin_login_is_limited_too_and_answers_429(client, admin_user, tight_limits):
    url = reverse("admin:login")
    codes = [
        client.post(
            url, {"username": "admin", "password": "wrong"}, REMOTE_ADDR="10.0.0.5"
        ).status_code
        for _ in range(3)
    ]
    assert codes == [200, 200, 200]
    response = client.post(
        url, {"username": "admin", "password": "password"}, REMOTE_ADDR="10.0.0.6"
    )
    assert response.status_code == 429  # was 200: the refusal looked like a wrong password
    assert 800 < int(response["Retry-After"]) <= 900
    assert b"Too many failed sign-ins" in response.content
    assert "_auth_user_id" not in client.session
    # The admin's own login still works otherwise.
    assert client.get(url).status_code == 200
    response = client.post(
        url, {"username": "admin", "password": "password"}, REMOTE_ADDR="10.0.0.7"
    )
    assert response.status_code == 429  # the username's failures count from any address


@pytest.mark.django_db
def test_sign_up_is_limited_per_address(client, django_user_model, tight_limits):
    def sign_up(name: str, address: str):
        return client.post(
            reverse("signup"),
            {"username": name, "password1": "x-long-passphrase-9", "password2": "nope"},
            REMOTE_ADDR=address,
        )

    assert [sign_up(f"u{n}", "10.0.3.1").status_code for n in range(3)] == [200, 200, 429]
    response = sign_up("u9", "10.0.3.1")
    assert b"Too many sign-ups from your address" in response.content
    assert sign_up("u10", "10.0.3.2").status_code == 200
    assert not django_user_model.objects.exists()


@pytest.mark.django_db
def test_sign_up_can_be_turned_off(client, settings):
    settings.CRIER_ALLOW_SIGNUP = False
    assert client.get(reverse("signup")).status_code == 404
    assert client.post(reverse("signup"), {"username": "x"}).status_code == 404
    for page in ("home", "login"):
        assert reverse("signup").encode() not in client.get(reverse(page)).content
    settings.CRIER_ALLOW_SIGNUP = True
    assert reverse("signup").encode() in client.get(reverse("home")).content


# --- the client address ------------------------------------------------------------------------


def _request(remote: str, forwarded: str | None) -> HttpRequest:
    request = HttpRequest()
    request.META["REMOTE_ADDR"] = remote
    if forwarded is not None:
        request.META["HTTP_X_FORWARDED_FOR"] = forwarded
    return request


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, None, "198.51.100.7"),
        (0, "1.2.3.4", "198.51.100.7"),  # no trusted proxy: the header is ignored
        (1, None, "198.51.100.7"),
        (1, "203.0.113.9", "203.0.113.9"),  # what our one proxy saw
        (1, "1.2.3.4, 203.0.113.9", "203.0.113.9"),  # a forged first entry is skipped
        (2, "1.2.3.4, 203.0.113.9, 10.0.0.2", "203.0.113.9"),
        (2, "203.0.113.9", "203.0.113.9"),
    ],
)
def test_client_address_trusts_only_the_configured_proxies(settings, proxies, forwarded, expected):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": proxies}
    request = _request("198.51.100.7", forwarded)
    assert client_address(request) == expected
    assert BaseThrottle().get_ident(request) == expected  # the API throttles agree


def test_trusted_proxies_setting_sets_drf_num_proxies():
    from django.conf import settings
    from rest_framework.settings import api_settings

    assert api_settings.NUM_PROXIES == settings.CRIER_TRUSTED_PROXIES == 0


@pytest.fixture
def two_searches_a_minute(monkeypatch):
    monkeypatch.setattr(AnonymousSearchThrottle, "rate", "2/minute", raising=False)


@pytest.mark.django_db
def test_forged_forwarded_for_does_not_reset_the_anonymous_api_search_budget(
    two_searches_a_minute,
):
    api = APIClient()
    url = reverse("api:search-similar", args=[999_999])  # the throttle answers before the lookup
    codes = [
        api.post(
            url, {"image_id": 1}, format="json", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}"
        ).status_code
        for n in range(4)
    ]
    assert codes == [404, 404, 429, 429]


@pytest.mark.django_db
def test_forged_forwarded_for_does_not_reset_the_anonymous_page_search_budget(
    client, user, two_searches_a_minute
):
    corpus = make_corpus(user, visibility=Visibility.PUBLIC)
    url = reverse("search:results", args=[corpus.pk])
    codes = [
        client.post(url, {}, HTTP_X_FORWARDED_FOR=f"203.0.113.{n}").status_code for n in range(3)
    ]
    assert codes[-1] == 429 and 429 not in codes[:2]


@pytest.mark.django_db
def test_behind_one_trusted_proxy_each_client_has_its_own_budget(settings, two_searches_a_minute):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    api = APIClient()
    url = reverse("api:search-similar", args=[999_999])

    def search(forwarded: str) -> int:
        return api.post(
            url, {"image_id": 1}, format="json", HTTP_X_FORWARDED_FOR=forwarded
        ).status_code

    assert [search("203.0.113.1") for _ in range(3)] == [404, 404, 429]
    # A client forging an extra first entry is still counted as the address our proxy saw.
    assert search("9.9.9.9, 203.0.113.1") == 429
    assert search("203.0.113.2") == 404


# --- bursts: at most the limit's password checks, on every cache backend ----------------------


def _cache_settings(backend: str) -> dict:
    import os

    from crier_site.env import cache_config

    if backend == "locmem":
        return {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    if backend == "database":
        return cache_config(None)
    url = os.environ.get("CRIER_TEST_REDIS_URL", "redis://127.0.0.1:6379/5")
    return cache_config(url)


@pytest.fixture(params=["locmem", "database", "redis"])
def shared_cache(request, settings):
    """Each cache backend CRIER runs with; the attempt slots must be atomic on all three."""
    from django.core.cache import cache

    settings.CACHES = _cache_settings(request.param)
    try:
        cache.clear()
    except Exception as exc:  # say which service is missing
        pytest.fail(f"The {request.param} cache is not reachable: {exc}")
    yield request.param
    cache.clear()


@pytest.fixture
def slow_password_checks(monkeypatch):
    """Counts every password check, each taking 50 ms, so concurrent attempts overlap."""
    import threading
    import time

    from django.contrib.auth.backends import ModelBackend

    checks = []
    lock = threading.Lock()
    authenticate = ModelBackend.authenticate

    def counted(self, request, username=None, password=None, **kwargs):
        with lock:
            checks.append(username)
        time.sleep(0.05)
        return authenticate(self, request, username=username, password=password, **kwargs)

    monkeypatch.setattr(ModelBackend, "authenticate", counted)
    return checks


def _at_once(calls: list) -> list[int]:
    """Run every call in its own thread, released together; their status codes."""
    import threading

    from django.db import connections

    barrier = threading.Barrier(len(calls))
    codes: list[int] = [0] * len(calls)

    def run(index: int) -> None:
        try:
            barrier.wait()
            codes[index] = calls[index]()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return codes


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("binding", ["username", "address"])
def test_a_burst_of_wrong_passwords_gets_no_more_checks_than_the_limit(
    settings, user, shared_cache, slow_password_checks, binding
):
    """Reported: 60 concurrent wrong passwords got 18 checks against a limit of 10, because the
    attempt list was read, changed and written without a lock."""
    settings.CRIER_SIGNIN_FAILURES_PER_USERNAME = "10/15m" if binding == "username" else "1000/h"
    settings.CRIER_SIGNIN_FAILURES_PER_ADDRESS = "10/15m" if binding == "address" else "1000/h"

    def attempt(n: int):
        # Either the one username from many addresses, or many usernames from one address.
        username = "alice" if binding == "username" else f"user{n}"
        address = f"10.7.{n // 250}.{n % 250}" if binding == "username" else "10.7.0.1"
        if n % 2:
            return lambda: token(APIClient(), username, "wrong", address=address).status_code
        return lambda: login(Client(), username, "wrong", address=address).status_code

    from django.test import Client

    codes = _at_once([attempt(n) for n in range(60)])
    checked = len(slow_password_checks)
    assert 1 <= checked <= 10, f"{checked} password checks for a limit of 10"
    assert set(codes) <= {200, 401, 429}
    assert codes.count(429) == 60 - checked
    # Whatever the burst left unused can still be tried, one by one, up to exactly the limit.
    for n in range(60, 80):
        code = attempt(n)()
        if code == 429:
            break
    assert len(slow_password_checks) == 10
    assert attempt(99)() == 429
