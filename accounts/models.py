"""API keys: a user's credentials for the REST API (docs/api.md, "Authentication").

A user may hold several keys, each named, scoped (``read`` or ``read-write``), optionally
expiring. Only a SHA-256 digest of a key is stored; the key itself is shown once, when it is
made. A key is found by its public ``prefix`` (the start of the key, also shown in lists) and
then checked against the digest in constant time (``accounts.keys``).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class Scope(models.TextChoices):
    READ = "read", "Read only"
    READ_WRITE = "read-write", "Read and write"


class ApiKey(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(max_length=100)
    # The key's first characters: "crier_" and 8 more for keys made here, the first 8 of the
    # 40 hex digits for tokens made before API keys existed. Not unique: the digest decides.
    prefix = models.CharField(max_length=16, db_index=True)
    digest = models.CharField(max_length=64)  # hex SHA-256 of the whole key
    scope = models.CharField(max_length=10, choices=Scope.choices, default=Scope.READ_WRITE)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    # Written at most once a minute per key (accounts.keys.LAST_USED_RESOLUTION).
    last_used_at = models.DateTimeField(null=True, blank=True)
    # Revoked keys are kept so that using one is answered "revoked", not "unknown".
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def can_write(self) -> bool:
        return self.scope == Scope.READ_WRITE
