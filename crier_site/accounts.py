"""Signing in, by page and by API, with failed attempts limited per client address and per
username (``crier_site.throttling``)."""

from __future__ import annotations

from collections.abc import Mapping

from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from rest_framework import serializers
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import ValidationError as ApiValidationError
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response

from crier_site.errors import TooManyRequests
from crier_site.openapi import api_operation
from crier_site.throttling import check_signin_allowed, record_signin_failure


class SignInLimitMixin:
    """For authentication forms: refuses to check any password while the address or the
    username is over its limit; counts every failed check."""

    retry_after_seconds = 0

    def clean(self) -> dict:
        username = str(self.data.get("username", ""))
        try:
            check_signin_allowed(self.request, username)
        except TooManyRequests as exc:
            self.retry_after_seconds = exc.details["retry_after_seconds"]
            raise ValidationError(exc.message, code="throttled") from None
        try:
            return super().clean()
        except ValidationError:
            record_signin_failure(self.request, username)
            raise


class ThrottledAuthenticationForm(SignInLimitMixin, AuthenticationForm):
    pass


class ThrottledAdminAuthenticationForm(SignInLimitMixin, AdminAuthenticationForm):
    pass


class LoginView(auth_views.LoginView):
    form_class = ThrottledAuthenticationForm

    def form_invalid(self, form: ThrottledAuthenticationForm) -> HttpResponse:
        response = super().form_invalid(form)
        if form.retry_after_seconds:
            response.status_code = 429
            response.headers["Retry-After"] = str(form.retry_after_seconds)
        return response


class TokenRequestSerializer(AuthTokenSerializer):
    username = serializers.CharField(max_length=150, write_only=True)
    password = serializers.CharField(
        max_length=4096, trim_whitespace=False, write_only=True, style={"input_type": "password"}
    )


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Send it as `Authorization: Token <token>`.")


class TokenApi(ObtainAuthToken):
    """``POST /api/v1/auth/token/`` {username, password} → {token}; failures are limited."""

    parser_classes = [JSONParser]
    serializer_class = TokenRequestSerializer
    # Signing in needs no credentials, and a stale token in the headers must not stop a client
    # from getting its token.
    authentication_classes = []

    @api_operation(
        request=TokenRequestSerializer,
        responses=TokenSerializer,
        errors=[429],
        description="The API token of this account (created on first use). A wrong username "
        "or password is a 400; too many failed sign-ins from this address or for this "
        "username are a 429 (retry after `retry_after_seconds`, also the Retry-After header), "
        "even with the right password.",
    )
    def post(self, request: Request, *args, **kwargs) -> Response:
        data = request.data if isinstance(request.data, Mapping) else {}
        username = str(data.get("username", ""))
        check_signin_allowed(request, username)
        serializer = self.get_serializer(data=request.data)
        if not serializer.is_valid():
            record_signin_failure(request, username)
            raise ApiValidationError(serializer.errors)
        token, _ = Token.objects.get_or_create(user=serializer.validated_data["user"])
        return Response({"token": token.key})
