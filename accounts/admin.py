from django.contrib import admin
from rest_framework.authtoken.models import TokenProxy

from accounts.models import ApiKey

# API keys replace DRF's tokens (accounts/migrations/0002 converted them); the app stays
# installed only so that the conversion can read the old table.
if admin.site.is_registered(TokenProxy):
    admin.site.unregister(TokenProxy)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "user",
        "prefix",
        "scope",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    )
    list_filter = ("scope",)
    search_fields = ("name", "prefix", "user__username")
    readonly_fields = ("prefix", "digest", "created_at", "last_used_at")
