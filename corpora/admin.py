from __future__ import annotations

from django import forms
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from corpora import services, trash
from corpora.models import Corpus, ImageRecord
from crier_site.errors import InvalidInput


class CorpusAdminForm(forms.ModelForm):
    class Meta:
        model = Corpus
        fields = "__all__"  # noqa: DJ007 - the admin shows every field

    def clean_encoder(self) -> str:
        try:
            return services.validate_encoder(self.cleaned_data["encoder"])
        except InvalidInput as exc:
            raise forms.ValidationError(exc.message) from None


@admin.register(Corpus)
class CorpusAdmin(admin.ModelAdmin):
    form = CorpusAdminForm
    list_display = (
        "name",
        "owner",
        "visibility",
        "status",
        "image_count",
        "encoded_count",
        "failed_count",
        "expires_at",
        "trashed_at",
        "created_at",
    )
    list_filter = (
        "status",
        "visibility",
        "encoder",
        ("expires_at", admin.EmptyFieldListFilter),
        ("trashed_at", admin.EmptyFieldListFilter),
    )
    search_fields = ("name", "description", "owner__username")
    readonly_fields = (
        "status_message",
        "created_at",
        "updated_at",
    )
    raw_id_fields = ("owner",)
    date_hierarchy = "created_at"
    actions = ["rebuild_index", "restore_from_trash", "delete_for_good"]

    def save_model(self, request, obj: Corpus, form, change: bool) -> None:
        if change and "encoder" in form.changed_data:
            new_encoder, obj.encoder = obj.encoder, form.initial["encoder"]
            super().save_model(request, obj, form, change)
            services.change_encoder(corpus=obj, encoder=new_encoder)
            self.message_user(
                request, f"“{obj.name}” is being re-encoded with {obj.encoder} in the background."
            )
            return
        super().save_model(request, obj, form, change)

    @admin.action(description="Rebuild the search index of the selected corpora")
    def rebuild_index(self, request, queryset) -> None:
        for corpus in queryset:
            services.reindex_corpus(corpus=corpus)
        self.message_user(request, f"Re-indexing {queryset.count()} corpora in the background.")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("owner").with_counts()

    # Deleting here, as everywhere, moves to the owner's trash (corpora/trash.py).
    def delete_model(self, request, obj: Corpus) -> None:
        services.delete_corpus(corpus=obj)

    def delete_queryset(self, request, queryset) -> None:
        for corpus in queryset:
            services.delete_corpus(corpus=corpus)

    @admin.action(description="Restore the selected corpora from the trash")
    def restore_from_trash(self, request, queryset) -> None:
        corpora = list(queryset.filter(trashed_at__isnull=False))
        for corpus in corpora:
            trash.restore_corpus(corpus=corpus)
        self.message_user(request, f"Restored {len(corpora)} corpora from the trash.")

    @admin.action(description="Delete the selected corpora in the trash for good")
    def delete_for_good(self, request, queryset) -> None:
        corpora = list(queryset.filter(trashed_at__isnull=False))
        for corpus in corpora:
            trash.purge_corpus(corpus=corpus)
        self.message_user(request, f"Deleted {len(corpora)} corpora for good.")

    @admin.display(ordering="image_count", description="images")
    def image_count(self, obj: Corpus) -> int:
        return obj.image_count

    @admin.display(ordering="encoded_count", description="encoded")
    def encoded_count(self, obj: Corpus) -> int:
        return obj.encoded_count

    @admin.display(ordering="failed_count", description="failed")
    def failed_count(self, obj: Corpus) -> int:
        return obj.failed_count


@admin.register(ImageRecord)
class ImageRecordAdmin(admin.ModelAdmin):
    list_display = (
        "preview",
        "original_filename",
        "corpus",
        "status",
        "short_error",
        "format",
        "width",
        "height",
        "byte_size",
        "created_at",
        "trashed_at",
    )
    list_display_links = ("preview", "original_filename")
    list_filter = (
        "status",
        "format",
        "corpus__visibility",
        ("trashed_at", admin.EmptyFieldListFilter),
    )
    actions = ["restore_from_trash", "delete_for_good"]
    search_fields = ("original_filename", "sha256", "corpus__name", "corpus__owner__username")
    readonly_fields = (
        "preview",
        "file",
        "sha256",
        "width",
        "height",
        "format",
        "byte_size",
        "created_at",
    )
    raw_id_fields = ("corpus",)
    list_select_related = ("corpus",)

    def get_queryset(self, request):
        return ImageRecord.all_objects.select_related("corpus")  # those in the trash too

    # Deleting here, as everywhere, moves to the owner's trash (corpora/trash.py).
    def delete_model(self, request, obj: ImageRecord) -> None:
        services.delete_images(corpus=obj.corpus, image_ids=[obj.pk])

    def delete_queryset(self, request, queryset) -> None:
        by_corpus: dict[int, list[ImageRecord]] = {}
        for record in queryset.select_related("corpus"):
            by_corpus.setdefault(record.corpus_id, []).append(record)
        for records in by_corpus.values():
            services.delete_images(corpus=records[0].corpus, image_ids=[r.pk for r in records])

    @admin.action(description="Restore the selected images from the trash")
    def restore_from_trash(self, request, queryset) -> None:
        restored = trash.restore_images(records=queryset.filter(trashed_at__isnull=False))
        self.message_user(request, f"Restored {restored} images from the trash.")

    @admin.action(description="Delete the selected images in the trash for good")
    def delete_for_good(self, request, queryset) -> None:
        deleted = trash.purge_images(records=queryset.filter(trashed_at__isnull=False))
        self.message_user(request, f"Deleted {deleted} images for good.")

    @admin.display(description="image")
    def preview(self, obj: ImageRecord) -> str:
        if not obj.pk:
            return "-"
        url = reverse("corpora:image_thumbnail", args=[obj.corpus_id, obj.pk])
        return format_html(
            '<img src="{}" alt="{}" loading="lazy" width="64" height="64"'
            ' style="object-fit:cover">',
            url,
            obj.original_filename,
        )

    @admin.display(description="error")
    def short_error(self, obj: ImageRecord) -> str:
        return (obj.error[:80] + "…") if len(obj.error) > 80 else obj.error
