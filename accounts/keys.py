"""API keys: made, listed, revoked and checked here, for the token page, the API and the
authentication class (``accounts.authentication``)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import ApiKey, Scope
from crier_site.errors import InvalidInput, NotFound

KEY_START = "crier_"
PREFIX_LENGTH = len(KEY_START) + 8
LEGACY_PREFIX_LENGTH = 8  # tokens made before API keys: 40 hex digits
# last_used_at is written when the stored value is older than this: one write a minute per key
# at most, however many requests the key sends.
LAST_USED_RESOLUTION = timedelta(minutes=1)
_ID_ALPHABET = string.ascii_lowercase + string.digits


def digest_of(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def prefix_of(key: str) -> str:
    """The public start by which a key is found: ``crier_xxxxxxxx`` or a legacy token's first 8
    characters."""
    return key[:PREFIX_LENGTH] if key.startswith(KEY_START) else key[:LEGACY_PREFIX_LENGTH]


def new_key() -> str:
    """``crier_`` + 8 characters of public id + ``_`` + 43 characters (256 random bits)."""
    public = "".join(secrets.choice(_ID_ALPHABET) for _ in range(PREFIX_LENGTH - len(KEY_START)))
    return f"{KEY_START}{public}_{secrets.token_urlsafe(32)}"


@dataclass(frozen=True)
class NewKey:
    """A key just made: ``secret`` is the only copy of the key there will ever be."""

    api_key: ApiKey
    secret: str


def create_key(
    *,
    user,
    name: str,
    scope: str = Scope.READ_WRITE,
    expires_at: datetime | None = None,
) -> NewKey:
    if expires_at is not None and expires_at <= timezone.now():
        raise InvalidInput(
            "expires_at: must be in the future.",
            fields={"expires_at": ["Must be in the future."]},
        )
    secret = new_key()
    api_key = ApiKey.objects.create(
        user=user,
        name=name,
        prefix=prefix_of(secret),
        digest=digest_of(secret),
        scope=scope,
        expires_at=expires_at,
    )
    return NewKey(api_key=api_key, secret=secret)


def keys_of(*, user) -> QuerySet[ApiKey]:
    """The user's keys that are not revoked (expired ones included), newest first."""
    return ApiKey.objects.filter(user=user, revoked_at__isnull=True)


def revoke_key(*, user, key_id: int) -> None:
    """Revoke one of ``user``'s keys; someone else's key, or none, is a NotFound."""
    revoked = keys_of(user=user).filter(pk=key_id).update(revoked_at=timezone.now())
    if not revoked:
        raise NotFound(f"API key {key_id} not found.")


def revoke(api_key: ApiKey) -> None:
    ApiKey.objects.filter(pk=api_key.pk).update(revoked_at=timezone.now())


class KeyRefused(Exception):
    """A key that does not authenticate; ``code`` and ``message`` say why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def check_key(key: str) -> ApiKey:
    """The active key ``key`` is, with its user; raises KeyRefused when it is unknown, revoked,
    expired or its user is inactive. The digests are compared in constant time."""
    digest = digest_of(key)
    found = None
    for candidate in ApiKey.objects.filter(prefix=prefix_of(key)).select_related("user"):
        if hmac.compare_digest(candidate.digest, digest):
            found = candidate
    if found is None:
        raise KeyRefused("invalid_key", "Invalid API key.")
    if found.revoked_at is not None:
        raise KeyRefused("key_revoked", f"This API key ({found.name!r}) was revoked.")
    if found.is_expired:
        when = found.expires_at.strftime("%Y-%m-%d %H:%M UTC")
        raise KeyRefused("key_expired", f"This API key ({found.name!r}) expired on {when}.")
    if not found.user.is_active:
        raise KeyRefused("user_inactive", "The account of this API key is disabled.")
    return found


def record_use(api_key: ApiKey) -> None:
    """Note that ``api_key`` was used now: at most one write per LAST_USED_RESOLUTION."""
    now = timezone.now()
    if api_key.last_used_at is not None and now - api_key.last_used_at < LAST_USED_RESOLUTION:
        return
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
    api_key.last_used_at = now
