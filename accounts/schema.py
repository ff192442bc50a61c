"""How API authentication appears in the OpenAPI schema.

- ``bearerAuth`` (HTTP bearer) documents ``ApiKeyAuthentication``; ``Token <key>`` is accepted
  too, as the scheme's description says (one Authorize box in Swagger UI).
- Operations that anyone may call (searching public corpora, reading public corpora) do not
  list their own ``security``: they inherit the document's, which ends with ``{}`` (no
  credentials needed). Generators such as openapi-python-client then let a plain client call
  them, while Swagger UI and schemathesis still send the key to them when they have one.
  An operation that reads no credentials at all (the token endpoint) says ``security: []``.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension

from accounts.authentication import ACCEPTED_FORMS


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.ApiKeyAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key from /accounts/token/ or `POST /api/v1/auth/token/`, "
            f"sent as {ACCEPTED_FORMS}.",
        }


def optional_security_is_inherited(result: dict, generator: Any, request: Any, public: bool):
    """drf-spectacular postprocessing hook: see the module docstring."""
    optional: list[dict] | None = None
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict):
                continue
            security = operation.get("security")
            if not security:
                operation["security"] = []  # reads no credentials: inherits nothing
            elif {} in security:
                optional = optional or security
                del operation["security"]
    if optional is not None:
        result["security"] = optional
    return result
