"""The REST API's key authentication: ``Authorization: Bearer <key>`` or ``Token <key>``.

Any other ``Authorization`` header — another scheme, no key, more than one word after the
scheme — is a 401 that names the accepted forms, never an anonymous request (which would find
one's own private corpus "not found"). A ``read`` key is refused with 403 by every view method
that writes: the unsafe HTTP methods, except on views that declare ``reads_only = True``
(searches sent as POST).
"""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from accounts import keys
from accounts.models import ApiKey

SCHEMES = ("bearer", "token")
ACCEPTED_FORMS = "`Authorization: Bearer <key>` or `Authorization: Token <key>`"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: Request):
        header = get_authorization_header(request)
        if not header:
            return None
        try:
            parts = header.decode("latin-1").split()
        except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes every byte
            parts = []
        if len(parts) != 2 or parts[0].lower() not in SCHEMES:
            raise exceptions.AuthenticationFailed(
                f"Malformed Authorization header: send {ACCEPTED_FORMS}.",
                code="bad_authorization",
            )
        try:
            api_key = keys.check_key(parts[1])
        except keys.KeyRefused as refused:
            raise exceptions.AuthenticationFailed(refused.message, code=refused.code) from None
        if not api_key.can_write and _writes(request):
            raise exceptions.PermissionDenied(
                f"This API key ({api_key.name!r}) is read-only: writing needs a key with "
                "scope `read-write`.",
                code="read_only_key",
            )
        keys.record_use(api_key)
        return api_key.user, api_key

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


def _writes(request: Request) -> bool:
    if request.method in SAFE_METHODS:
        return False
    view = (request.parser_context or {}).get("view")
    return not getattr(view, "reads_only", False)


def key_of(request: Request) -> ApiKey | None:
    """The API key that authenticated ``request`` (None when signed in otherwise)."""
    return request.auth if isinstance(request.auth, ApiKey) else None
