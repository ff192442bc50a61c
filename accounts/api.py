"""/api/v1/auth/: a token for a username and password (failed attempts limited per client
address and per username, ``accounts.throttling``) and revoking it."""

from __future__ import annotations

from collections.abc import Mapping

from rest_framework import serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import ValidationError as ApiValidationError
from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import tokens
from accounts.throttling import start_signin
from crier_site.api.operations import api_operation


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
        attempt = start_signin(request, username)
        serializer = self.get_serializer(data=request.data)
        if not serializer.is_valid():
            raise ApiValidationError(serializer.errors)  # the attempt keeps its slots
        attempt.succeeded()
        token, _ = Token.objects.get_or_create(user=serializer.validated_data["user"])
        return Response({"token": token.key})


class TokenRevokeApi(APIView):
    permission_classes = [IsAuthenticated]

    @api_operation(request=None, responses={204: None})
    def delete(self, request: Request) -> Response:
        tokens.revoke_token(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
