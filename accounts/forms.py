"""Sign-in forms whose failed attempts are limited per client address and per username
(``accounts.throttling``)."""

from __future__ import annotations

from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from accounts.throttling import start_signin
from crier_site.errors import TooManyRequests


class SignInLimitMixin:
    """For authentication forms: refuses to check any password while the address or the
    username is over its limit; counts every failed check."""

    retry_after_seconds = 0

    def clean(self) -> dict:
        username = str(self.data.get("username", ""))
        try:
            attempt = start_signin(self.request, username)
        except TooManyRequests as exc:
            self.retry_after_seconds = exc.details["retry_after_seconds"]
            raise ValidationError(exc.message, code="throttled") from None
        cleaned = super().clean()  # a wrong password raises: the attempt keeps its slots
        attempt.succeeded()
        return cleaned


class ThrottledAuthenticationForm(SignInLimitMixin, AuthenticationForm):
    pass


class ThrottledAdminAuthenticationForm(SignInLimitMixin, AdminAuthenticationForm):
    pass
