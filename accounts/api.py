"""/api/v1/auth/: API keys — one for a username and password (failed attempts limited per
client address and per username, ``accounts.throttling``), the caller's keys listed, made and
revoked."""

from __future__ import annotations

from collections.abc import Mapping

from rest_framework import serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import keys
from accounts.authentication import key_of
from accounts.serializers import (
    ApiKeyCreateSerializer,
    ApiKeySerializer,
    NewApiKeySerializer,
    TokenCreateSerializer,
)
from accounts.throttling import start_signin
from crier_site.api.operations import api_operation
from crier_site.errors import CrierError, InvalidInput


class WrongCredentials(CrierError):
    status_code = 401
    code = "invalid_credentials"


def _new_key_body(new: keys.NewKey) -> dict:
    return {**ApiKeySerializer(new.api_key).data, "token": new.secret}


class TokenApi(APIView):
    """``POST /api/v1/auth/token/`` {username, password} → a new key; failures are limited."""

    parser_classes = [JSONParser]
    # Signing in needs no credentials, and a stale key in the headers must not stop a client
    # from getting a new one.
    authentication_classes = []
    permission_classes = []

    @api_operation(
        request=TokenCreateSerializer,
        responses=NewApiKeySerializer,
        errors=[401, 429],
        description="A new API key for this account (each call makes one; name, scope and "
        "expiry are optional: `API sign-in`, `read-write`, no expiry). The key is in `token`, "
        "shown this once. A wrong username or password is a 401; too many failed sign-ins "
        "from this address or for this username are a 429 (retry after "
        "`retry_after_seconds`, also the Retry-After header), even with the right password.",
    )
    def post(self, request: Request) -> Response:
        data = request.data if isinstance(request.data, Mapping) else {}
        username = str(data.get("username", ""))
        attempt = start_signin(request, username)
        serializer = TokenCreateSerializer(data=request.data, context={"request": request})
        try:
            serializer.is_valid(raise_exception=True)
        except serializers.ValidationError as exc:  # the attempt keeps its slots
            if exc.get_codes() == {"non_field_errors": ["authorization"]}:
                raise WrongCredentials("Wrong username or password.") from None
            raise
        attempt.succeeded()
        data = serializer.validated_data
        new = keys.create_key(
            user=data["user"],
            name=data["name"],
            scope=data["scope"],
            expires_at=serializer.expires_at(),
        )
        return Response(_new_key_body(new))


class ApiKeyListApi(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]

    @api_operation(responses=ApiKeySerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(ApiKeySerializer(keys.keys_of(user=request.user), many=True).data)

    @api_operation(
        request=ApiKeyCreateSerializer,
        responses={201: NewApiKeySerializer},
        description="A new API key; the key itself is in `token`, shown this once.",
    )
    def post(self, request: Request) -> Response:
        serializer = ApiKeyCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        new = keys.create_key(
            user=request.user,
            name=data["name"],
            scope=data["scope"],
            expires_at=serializer.expires_at(),
        )
        return Response(_new_key_body(new), status=status.HTTP_201_CREATED)


class ApiKeyDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    @api_operation(request=None, responses={204: None}, description="Revoke one of your keys.")
    def delete(self, request: Request, key_id: int) -> Response:
        keys.revoke_key(user=request.user, key_id=key_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TokenRevokeApi(APIView):
    permission_classes = [IsAuthenticated]
    reads_only = True  # a read-only key may revoke itself

    @api_operation(
        request=None,
        responses={204: None},
        description="Revoke the API key this request is sent with.",
    )
    def delete(self, request: Request) -> Response:
        api_key = key_of(request)
        if api_key is None:
            raise InvalidInput(
                "This request carries no API key to revoke; revoke a key by its id "
                "(DELETE /api/v1/auth/keys/{key_id}/)."
            )
        keys.revoke(api_key)
        return Response(status=status.HTTP_204_NO_CONTENT)
