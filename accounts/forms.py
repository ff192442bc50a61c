"""Sign-in forms whose failed attempts are limited per client address and per username
(``accounts.throttling``), and the token page's form for a new API key."""

from __future__ import annotations

from datetime import datetime, timedelta

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.models import Scope
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


EXPIRY_CHOICES = [
    ("", "Never"),
    ("7", "In 7 days"),
    ("30", "In 30 days"),
    ("90", "In 90 days"),
    ("365", "In a year"),
]


class ApiKeyForm(forms.Form):
    """A new API key, on the token page."""

    name = forms.CharField(
        max_length=100, help_text="What the key is for, e.g. “nightly upload script”."
    )
    scope = forms.ChoiceField(
        choices=Scope.choices,
        initial=Scope.READ_WRITE,
        help_text="A read-only key can search and download but not change anything.",
    )
    expires_in_days = forms.TypedChoiceField(
        label="Expires",
        choices=EXPIRY_CHOICES,
        coerce=int,
        empty_value=None,
        required=False,
    )

    def expires_at(self) -> datetime | None:
        days = self.cleaned_data.get("expires_in_days")
        return timezone.now() + timedelta(days=days) if days else None
