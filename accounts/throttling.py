"""Who is asking, and how often they may fail to sign in or try to sign up.

The client address is the one DRF's throttles use (``NUM_PROXIES`` = ``CRIER_TRUSTED_PROXIES``),
so the page throttles, the sign-in limits and the API throttles always count the same address:
``REMOTE_ADDR`` unless proxies are trusted, and never a header a client can forge on its own.

Attempts are counted in Django's cache, which every web process shares (``CACHES`` in
``crier_site/settings.py``): a sliding window of recent attempt times per address and per
username. Concurrent attempts may each read the list before the other writes it, so a burst can
get a few more tries than the limit, never many.
"""

from __future__ import annotations

import hashlib
import math
import re
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from rest_framework.throttling import BaseThrottle

from crier_site.errors import TooManyRequests

_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smhd])[a-z]*\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def client_address(request: HttpRequest) -> str:
    """The client's address: ``REMOTE_ADDR``, or with ``CRIER_TRUSTED_PROXIES`` = n, the
    address the n-th proxy (counting from CRIER) appended to ``X-Forwarded-For``."""
    return BaseThrottle().get_ident(request)


def parse_rate(rate: str) -> tuple[int, int]:
    """``"10/15m"`` → (10, 900): at most 10 in any 15 minutes. Units s, m, h, d."""
    match = _RATE.match(rate)
    if match is None:
        raise ValueError(f"A rate looks like '10/15m' (count/[multiplier]unit), not {rate!r}")
    count, multiplier, unit = match.groups()
    return int(count), int(multiplier or 1) * _UNIT_SECONDS[unit.lower()]


@dataclass(frozen=True)
class AttemptLimit:
    """At most ``count`` attempts per ``seconds`` for each identity (an address, a username)."""

    scope: str
    count: int
    seconds: int

    @classmethod
    def from_rate(cls, scope: str, rate: str) -> AttemptLimit:
        count, seconds = parse_rate(rate)
        return cls(scope, count, seconds)

    def _key(self, identity: str) -> str:
        digest = hashlib.sha256(identity.encode()).hexdigest()[:32]
        return f"attempts:{self.scope}:{digest}"

    def _recent(self, identity: str, now: float) -> list[float]:
        history = cache.get(self._key(identity)) or []
        return [moment for moment in history if moment > now - self.seconds]

    def wait(self, identity: str) -> int:
        """Seconds until ``identity`` may try again; 0 when it may now."""
        now = time.time()
        recent = self._recent(identity, now)
        if len(recent) < self.count:
            return 0
        oldest_that_counts = sorted(recent)[-self.count]
        return max(1, math.ceil(oldest_that_counts + self.seconds - now))

    def record(self, identity: str) -> None:
        now = time.time()
        recent = self._recent(identity, now)
        recent.append(now)
        cache.set(self._key(identity), recent[-self.count :], self.seconds)


def _signin_limits() -> tuple[AttemptLimit, AttemptLimit]:
    return (
        AttemptLimit.from_rate("signin-address", settings.CRIER_SIGNIN_FAILURES_PER_ADDRESS),
        AttemptLimit.from_rate("signin-username", settings.CRIER_SIGNIN_FAILURES_PER_USERNAME),
    )


def _normalized(username: str) -> str:
    return username.strip().casefold()


def human_wait(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    return f"{math.ceil(seconds / 60)} minutes"


def check_signin_allowed(request: HttpRequest, username: str) -> None:
    """Raise ``TooManyRequests`` (with ``retry_after_seconds``) while the client's address or
    the username has used up its failed sign-ins. Checked before the password is, so a
    throttled attempt with the right password fails too."""
    by_address, by_username = _signin_limits()
    wait = max(by_address.wait(client_address(request)), by_username.wait(_normalized(username)))
    if wait:
        raise TooManyRequests(
            "Too many failed sign-ins from your address or for this account; "
            f"try again in {human_wait(wait)}.",
            retry_after_seconds=wait,
        )


def record_signin_failure(request: HttpRequest, username: str) -> None:
    by_address, by_username = _signin_limits()
    by_address.record(client_address(request))
    by_username.record(_normalized(username))


def check_signup_allowed(request: HttpRequest) -> None:
    """Every sign-up attempt counts against the client's address, successful or not."""
    limit = AttemptLimit.from_rate("signup-address", settings.CRIER_SIGNUP_RATE)
    address = client_address(request)
    wait = limit.wait(address)
    if wait:
        raise TooManyRequests(
            f"Too many sign-ups from your address; try again in {human_wait(wait)}.",
            retry_after_seconds=wait,
        )
    limit.record(address)
