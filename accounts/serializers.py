"""What the API keys look like in the REST API (``/api/v1/auth/``)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.auth import authenticate
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, extend_schema_serializer
from rest_framework import serializers

from accounts.models import ApiKey, Scope

NAME_HELP = "What the key is for, e.g. 'nightly upload script'."
SCOPE_HELP = "`read`: reading and searching only (writes are 403); `read-write`: everything."
EXPIRES_HELP = "The key stops working this many days from now; omitted or null: never."
MAX_EXPIRY_DAYS = 3650


class ApiKeySerializer(serializers.ModelSerializer):
    expired = serializers.BooleanField(source="is_expired", read_only=True)

    class Meta:
        model = ApiKey
        fields = [
            "id",
            "name",
            "prefix",
            "scope",
            "created_at",
            "expires_at",
            "last_used_at",
            "expired",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "prefix": {"help_text": "The key's first characters, to tell keys apart."},
            "last_used_at": {"help_text": "Accurate to a minute; null: never used."},
        }


class NewApiKeySerializer(ApiKeySerializer):
    token = serializers.CharField(
        read_only=True,
        help_text="The key itself, shown this once and never again (only a digest is stored). "
        "Send it as `Authorization: Bearer <token>` (or `Token <token>`).",
    )

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "token"]
        read_only_fields = fields


class KeyOptionsSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, help_text=NAME_HELP)
    scope = serializers.ChoiceField(
        choices=Scope.choices, default=Scope.READ_WRITE, help_text=SCOPE_HELP
    )
    expires_in_days = serializers.IntegerField(
        min_value=1,
        max_value=MAX_EXPIRY_DAYS,
        required=False,
        allow_null=True,
        default=None,
        help_text=EXPIRES_HELP,
    )

    def expires_at(self) -> datetime | None:
        days = self.validated_data["expires_in_days"]
        return timezone.now() + timedelta(days=days) if days else None


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A read-write key that never expires",
            value={"name": "upload script", "scope": "read-write"},
            request_only=True,
        ),
        OpenApiExample(
            "A read-only key for a year",
            value={"name": "search client", "scope": "read", "expires_in_days": 365},
            request_only=True,
        ),
    ]
)
class ApiKeyCreateSerializer(KeyOptionsSerializer):
    pass


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Sign in",
            value={"username": "alice", "password": "your password"},
            request_only=True,
        )
    ]
)
class TokenCreateSerializer(KeyOptionsSerializer):
    """A username and password; the new key's name, scope and expiry are optional."""

    username = serializers.CharField(max_length=150, write_only=True)
    password = serializers.CharField(
        max_length=4096, trim_whitespace=False, write_only=True, style={"input_type": "password"}
    )
    name = serializers.CharField(
        max_length=100, required=False, default="API sign-in", help_text=NAME_HELP
    )

    def validate(self, attrs: dict) -> dict:
        user = authenticate(
            request=self.context.get("request"),
            username=attrs["username"],
            password=attrs["password"],
        )
        if user is None:
            raise serializers.ValidationError(
                "Unable to log in with provided credentials.", code="authorization"
            )
        attrs["user"] = user
        return attrs
