"""Who is asking, and how often they may fail to sign in or try to sign up.

The client address is the one DRF's throttles use (``NUM_PROXIES`` = ``CRIER_TRUSTED_PROXIES``),
so the page throttles, the sign-in limits and the API throttles always count the same address:
``REMOTE_ADDR`` unless proxies are trusted, and never a header a client can forge on its own.

Attempts are counted in Django's cache, which every web process shares (``CACHES`` in
``crier_site/settings.py``): a sliding window per address and per username whose slots are
taken atomically (``AttemptLimit``), before the password is checked, so a burst of concurrent
attempts gets no more checks than the limit.
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
    """At most ``count`` attempts per ``seconds`` (a sliding window) for each identity (an
    address, a username).

    Each attempt holds one of ``count`` slots: a cache key claimed with ``cache.add``, which is
    atomic on every backend CRIER uses (Redis ``SET NX``, the database cache's primary key,
    locmem's lock), holding the attempt's time. Slot keys are named by the window-long period
    they were claimed in and live two periods, so a claim never lands on an expired key that a
    concurrent claim could also take; a window spans the current and the previous period. After
    its ``add`` an attempt counts the held slots again and gives its own back if there are too
    many (two periods' claims may race): so however many attempts arrive at once, at most
    ``count`` hold a slot at any moment — never a few more, as a read-change-write of one list
    would allow.
    """

    scope: str
    count: int
    seconds: int

    @classmethod
    def from_rate(cls, scope: str, rate: str) -> AttemptLimit:
        count, seconds = parse_rate(rate)
        return cls(scope, count, seconds)

    def _slots(self, identity: str, now: float) -> list[str]:
        """The slot keys of the previous and the current period, the current one's last."""
        digest = hashlib.sha256(identity.encode()).hexdigest()[:32]
        period = int(now // self.seconds)
        return [
            f"attempts:{self.scope}:{digest}:{p}:{slot}"
            for p in (period - 1, period)
            for slot in range(self.count)
        ]

    def _held(self, keys: list[str], now: float) -> dict[str, float]:
        """The slots among ``keys`` that an attempt of the last ``seconds`` holds."""
        found = cache.get_many(keys)
        return {key: moment for key, moment in found.items() if moment > now - self.seconds}

    def wait(self, identity: str) -> int:
        """Seconds until ``identity`` may try again; 0 when it may now."""
        now = time.time()
        held = sorted(self._held(self._slots(identity, now), now).values())
        if len(held) < self.count:
            return 0
        oldest_that_counts = held[-self.count]
        return max(1, math.ceil(oldest_that_counts + self.seconds - now))

    def claim(self, identity: str) -> str | None:
        """Take a slot for an attempt now: its key (``release`` gives it back), or None when
        the window is full."""
        now = time.time()
        keys = self._slots(identity, now)
        held = self._held(keys, now)
        if len(held) >= self.count:
            return None
        for key in keys[-self.count :]:
            if key in held or not cache.add(key, now, timeout=2 * self.seconds):
                continue
            later = time.time()
            recount = list(dict.fromkeys(keys + self._slots(identity, later)))
            if len(self._held(recount, later)) > self.count:
                self.release(key)
                return None
            return key
        return None

    @staticmethod
    def release(key: str) -> None:
        cache.delete(key)


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


class SignInAttempt:
    """One password check that holds a slot of each sign-in limit; a failure keeps them for the
    window, ``succeeded()`` gives them back (successful sign-ins do not count)."""

    def __init__(self, slots: list[str]) -> None:
        self._slots = slots

    def succeeded(self) -> None:
        cache.delete_many(self._slots)
        self._slots = []


def start_signin(request: HttpRequest, username: str) -> SignInAttempt:
    """Take a slot of the client address's and of the username's failed sign-ins before the
    password is checked, or raise ``TooManyRequests`` (with ``retry_after_seconds``) when
    either is used up — so a throttled attempt with the right password fails too, and a burst
    of concurrent attempts gets no more password checks than the limits allow."""
    by_address, by_username = _signin_limits()
    identities = [(by_address, client_address(request)), (by_username, _normalized(username))]
    slots: list[str] = []
    for limit, identity in identities:
        slot = limit.claim(identity)
        if slot is None:
            cache.delete_many(slots)
            wait = max(1, *(limit.wait(identity) for limit, identity in identities))
            raise TooManyRequests(
                "Too many failed sign-ins from your address or for this account; "
                f"try again in {human_wait(wait)}.",
                retry_after_seconds=wait,
            )
        slots.append(slot)
    return SignInAttempt(slots)


def check_signup_allowed(request: HttpRequest) -> None:
    """Every sign-up attempt counts against the client's address, successful or not."""
    limit = AttemptLimit.from_rate("signup-address", settings.CRIER_SIGNUP_RATE)
    address = client_address(request)
    if limit.claim(address) is None:
        wait = max(1, limit.wait(address))
        raise TooManyRequests(
            f"Too many sign-ups from your address; try again in {human_wait(wait)}.",
            retry_after_seconds=wait,
        )
