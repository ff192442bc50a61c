"""A user's REST API token: the writes the token page and the API call."""

from __future__ import annotations

from django.db import transaction
from rest_framework.authtoken.models import Token


def current_token(*, user) -> Token | None:
    return Token.objects.filter(user=user).first()


def replace_token(*, user) -> Token:
    """A new token for ``user``; the old one, if any, stops working at once."""
    with transaction.atomic():
        Token.objects.filter(user=user).delete()
        return Token.objects.create(user=user)


def revoke_token(*, user) -> None:
    Token.objects.filter(user=user).delete()
