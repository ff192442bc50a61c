"""Search's tables in the admin, read-only: what the encoding job and index builds wrote."""

from __future__ import annotations

from django.contrib import admin

from search.models import CorpusIndex, ImageVector


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(CorpusIndex)
class CorpusIndexAdmin(ReadOnlyAdmin):
    list_display = (
        "corpus",
        "encoder",
        "version",
        "indexed_count",
        "stale",
        "lease_until",
        "build_finished_at",
    )
    search_fields = ("corpus__name", "version")
    raw_id_fields = ("corpus",)


@admin.register(ImageVector)
class ImageVectorAdmin(ReadOnlyAdmin):
    list_display = ("image", "corpus", "encoder", "kind", "status", "fingerprint", "updated_at")
    list_filter = ("status", "kind", "encoder")
    search_fields = ("image__original_filename", "corpus__name", "fingerprint")
    raw_id_fields = ("image", "corpus")
    list_select_related = ("image", "corpus")
    exclude = ("vector",)
