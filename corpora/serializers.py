"""Shapes of corpora and images in the API. Input serializers only validate; services write."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from corpora.encoder_options import encoder_choices
from corpora.metadata import (
    MAX_CAPTION_LENGTH,
    MAX_DATA_BYTES,
    MAX_TAG_LENGTH,
    MAX_TAGS,
    parse_metadata_field,
)
from corpora.models import Corpus, ImageRecord, Visibility
from corpora.selectors import attach_labels, corpus_counts
from corpora.signals import index_facts
from crier_site.api.fields import MAX_ID, JSONObjectPartField, LabelSerializer, QueryBooleanField
from crier_site.api.links import absolute_url, image_file_url, image_thumbnail_url, image_url


class CorpusSerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.get_username", read_only=True)
    image_count = serializers.SerializerMethodField()
    encoded_count = serializers.SerializerMethodField()
    pending_count = serializers.SerializerMethodField()
    failed_count = serializers.SerializerMethodField()
    indexed_count = serializers.SerializerMethodField(help_text="Vectors in the live index.")
    index_version = serializers.SerializerMethodField(
        help_text="Version of the live index (changes with every update); empty if none."
    )
    index_encoder = serializers.SerializerMethodField(
        help_text="The encoder whose vectors the live index holds: `encoder`, except while a "
        "change of encoder is under way (searches use this one until the swap)."
    )
    reencoded_count = serializers.SerializerMethodField(
        help_text="During a change of encoder: how many images the new encoder has done (of "
        "`image_count`); null otherwise."
    )
    url = serializers.SerializerMethodField()

    class Meta:
        model = Corpus
        fields = [
            "id",
            "name",
            "description",
            "visibility",
            "owner",
            "status",
            "status_message",
            "image_count",
            "encoded_count",
            "pending_count",
            "failed_count",
            "indexed_count",
            "index_version",
            "index_encoder",
            "reencoded_count",
            "encoder",
            "created_at",
            "updated_at",
            "expires_at",
            "url",
        ]
        read_only_fields = fields

    def _counts(self, corpus: Corpus) -> dict[str, int]:
        # The list endpoint annotates counts (one query); a single corpus counts on demand.
        if hasattr(corpus, "image_count"):
            return {
                "image_count": corpus.image_count,
                "encoded_count": corpus.encoded_count,
                "pending_count": corpus.pending_count,
                "failed_count": corpus.failed_count,
            }
        cache = self.context.setdefault("_counts", {})
        if corpus.pk not in cache:
            counts = corpus_counts(corpus=corpus)
            cache[corpus.pk] = {
                "image_count": counts.total,
                "encoded_count": counts.encoded,
                "pending_count": counts.pending,
                "failed_count": counts.failed,
            }
        return cache[corpus.pk]

    def get_image_count(self, corpus: Corpus) -> int:
        return self._counts(corpus)["image_count"]

    def get_encoded_count(self, corpus: Corpus) -> int:
        return self._counts(corpus)["encoded_count"]

    def get_pending_count(self, corpus: Corpus) -> int:
        return self._counts(corpus)["pending_count"]

    def get_failed_count(self, corpus: Corpus) -> int:
        return self._counts(corpus)["failed_count"]

    def _index(self, corpus: Corpus) -> dict:
        cache = self.context.setdefault("_index_facts", {})
        if corpus.pk not in cache:
            cache.update(index_facts([corpus.pk]))
        return cache.get(corpus.pk, {})

    def get_indexed_count(self, corpus: Corpus) -> int:
        return int(self._index(corpus).get("indexed_count", 0))

    def get_index_version(self, corpus: Corpus) -> str:
        return str(self._index(corpus).get("index_version", ""))

    def get_index_encoder(self, corpus: Corpus) -> str:
        return str(self._index(corpus).get("index_encoder") or corpus.encoder)

    def get_reencoded_count(self, corpus: Corpus) -> int | None:
        return self._index(corpus).get("reencoded_count")

    def get_url(self, corpus: Corpus) -> str:
        return absolute_url(self.context, reverse("api:corpus-detail", args=[corpus.pk]))


class CorpusListQuerySerializer(serializers.Serializer):
    public = QueryBooleanField(
        required=False, default=False, help_text="Also list other people's public corpora."
    )


class CorpusCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    visibility = serializers.ChoiceField(choices=Visibility.choices, default=Visibility.PRIVATE)
    expires_in_minutes = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        min_value=1,
        max_value=settings.CRIER_TEMP_CORPUS_MAX_MINUTES,
        help_text="Make the corpus temporary: it and its images are deleted after this long.",
    )
    encoder = serializers.ChoiceField(
        choices=[],
        required=False,
        help_text="The model that turns its images into vectors (default: the site's). "
        "It can be changed later (PATCH `encoder`), without downtime.",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if "encoder" in self.fields:
            self.fields["encoder"].choices = encoder_choices()


class CorpusUpdateSerializer(CorpusCreateSerializer):
    """PATCH (partial): only the fields sent change; ``expires_in_minutes: null`` makes the
    corpus permanent. Another ``encoder`` re-encodes every image in the background while the
    current index keeps answering searches; watch ``reencoded_count`` and ``index_encoder``."""

    encoder = serializers.ChoiceField(
        choices=[],
        required=False,
        help_text="Another model for the corpus: its images are encoded again in the "
        "background; searches keep using the current model (`index_encoder`) until all are, "
        "then switch at once.",
    )


class ImageListSerializer(serializers.ListSerializer):
    """A list of images, their predicted labels loaded in one request."""

    def to_representation(self, data):
        records = data.all() if hasattr(data, "all") else data
        return super().to_representation(attach_labels(records))


class ImageSerializer(serializers.ModelSerializer):
    """One image. ``latitude``/``longitude`` are null unless the reader owns the corpus or it
    is public (the view says which through ``context["show_location"]``)."""

    filename = serializers.CharField(source="original_filename", read_only=True)
    labels = LabelSerializer(many=True, read_only=True, help_text="Predicted, best first.")
    tags = serializers.ListField(child=serializers.CharField(), read_only=True)
    camera = serializers.CharField(read_only=True, help_text="Make and model, from EXIF.")
    latitude = serializers.SerializerMethodField()
    longitude = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()
    file_url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()

    class Meta:
        model = ImageRecord
        list_serializer_class = ImageListSerializer
        fields = [
            "id",
            "filename",
            "status",
            "error",
            "width",
            "height",
            "format",
            "byte_size",
            "sha256",
            "tags",
            "caption",
            "metadata",
            "labels",
            "taken_at",
            "camera",
            "camera_make",
            "camera_model",
            "latitude",
            "longitude",
            "created_at",
            "url",
            "file_url",
            "thumbnail_url",
        ]
        read_only_fields = fields

    def get_latitude(self, record: ImageRecord) -> float | None:
        return record.latitude if self.context.get("show_location") else None

    def get_longitude(self, record: ImageRecord) -> float | None:
        return record.longitude if self.context.get("show_location") else None

    def get_url(self, record: ImageRecord) -> str:
        return image_url(self.context, record)

    def get_file_url(self, record: ImageRecord) -> str:
        return image_file_url(self.context, record)

    def get_thumbnail_url(self, record: ImageRecord) -> str:
        return image_thumbnail_url(self.context, record)


class ImageUpdateSerializer(serializers.Serializer):
    """PATCH an image: only the fields sent change (the service checks the limits)."""

    tags = serializers.ListField(
        child=serializers.CharField(
            max_length=MAX_TAG_LENGTH,
            allow_blank=True,
            validators=[RegexValidator(r"^[^|\x00]*$", "A tag cannot contain '|'.")],
        ),
        max_length=MAX_TAGS,
        required=False,
        help_text=f"Replaces the tags: at most {MAX_TAGS}, each {MAX_TAG_LENGTH} characters.",
    )
    caption = serializers.CharField(
        max_length=MAX_CAPTION_LENGTH, allow_blank=True, required=False, trim_whitespace=True
    )
    metadata = serializers.DictField(
        required=False, help_text=f"Replaces the free JSON object ({MAX_DATA_BYTES} bytes at most)."
    )


class AcceptedImageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    filename = serializers.CharField()
    url = serializers.CharField()


class DuplicateFileSerializer(serializers.Serializer):
    filename = serializers.CharField()
    existing_id = serializers.IntegerField(help_text="The image of the corpus it duplicates.")


class RejectedFileSerializer(serializers.Serializer):
    filename = serializers.CharField()
    error = serializers.CharField(help_text="Why it was not accepted.")


class IngestReportSerializer(serializers.Serializer):
    accepted = serializers.SerializerMethodField()
    duplicates = serializers.SerializerMethodField()
    rejected = serializers.SerializerMethodField()

    @extend_schema_field(AcceptedImageSerializer(many=True))
    def get_accepted(self, report) -> list[dict]:
        return [
            {"id": r.pk, "filename": r.original_filename, "url": image_url(self.context, r)}
            for r in report.accepted
        ]

    @extend_schema_field(DuplicateFileSerializer(many=True))
    def get_duplicates(self, report) -> list[dict]:
        return [{"filename": d.filename, "existing_id": d.existing_id} for d in report.duplicates]

    @extend_schema_field(RejectedFileSerializer(many=True))
    def get_rejected(self, report) -> list[dict]:
        return [{"filename": r.filename, "error": r.error} for r in report.rejected]


class ImageUploadSerializer(serializers.Serializer):
    images = serializers.ListField(
        # An empty file is reported as rejected with the others, not refused as a request.
        child=serializers.FileField(allow_empty_file=True),
        min_length=1,
        max_length=settings.CRIER_MAX_FILES_PER_UPLOAD,
        help_text="Image files (JPEG, PNG, GIF, BMP, TIFF, WebP), repeated in one field.",
    )
    metadata = JSONObjectPartField(
        parse=parse_metadata_field,
        required=False,
        help_text='A JSON object: {"<filename>": {"tags": ["..."], "caption": '
        '"...", "metadata": {...}}}. A file whose entry is invalid, and a '
        "name that matches no file, are listed in 'rejected'.",
    )


def _image_ids_field(help_text: str) -> serializers.ListField:
    """The ``ids`` of a request that acts on many images at once (1 to 1,000)."""
    return serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        min_length=1,
        max_length=1000,
        help_text=help_text,
    )


def _not_found_field(help_text: str) -> serializers.ListField:
    """The requested ids that named no image the request could act on."""
    return serializers.ListField(child=serializers.IntegerField(), help_text=help_text)


class ImageBulkDeleteSerializer(serializers.Serializer):
    ids = _image_ids_field("Ids of images of this corpus to delete.")


class ImageBulkDeleteResultSerializer(serializers.Serializer):
    deleted = serializers.IntegerField()
    not_found = _not_found_field("Ids that are not images of this corpus.")


# --- the trash (corpora/trash.py) ----------------------------------------------------------------


class TrashedCorpusSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(
        help_text="Its name now; restoring renames it if another corpus took it meanwhile."
    )
    description = serializers.CharField()
    visibility = serializers.ChoiceField(choices=Visibility.choices)
    image_count = serializers.IntegerField(help_text="Images that come back with it.")
    trashed_at = serializers.DateTimeField(help_text="When it was deleted.")
    purges_at = serializers.DateTimeField(help_text="When it will be deleted for good.")
    restore_url = serializers.CharField()


class TrashedImageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    corpus_id = serializers.IntegerField()
    corpus_name = serializers.CharField()
    filename = serializers.CharField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    byte_size = serializers.IntegerField()
    trashed_at = serializers.DateTimeField(help_text="When it was deleted.")
    purges_at = serializers.DateTimeField(help_text="When it will be deleted for good.")
    thumbnail_url = serializers.CharField(help_text="A 320-px WebP, for its owner.")
    restore_url = serializers.CharField()


class TrashSerializer(serializers.Serializer):
    days = serializers.IntegerField(
        help_text="How long things stay in the trash before they are deleted for good "
        "(CRIER_TRASH_DAYS)."
    )
    corpora = TrashedCorpusSerializer(many=True)
    images = TrashedImageSerializer(
        many=True,
        help_text="Images deleted from corpora that are not in the trash themselves (those of a "
        "corpus in the trash come back with it).",
    )


class TrashEmptiedSerializer(serializers.Serializer):
    corpora = serializers.IntegerField(help_text="Corpora deleted for good, with their images.")
    images = serializers.IntegerField(help_text="Other images deleted for good.")


def trash_response(contents, *, days: int, context: dict) -> dict:
    """The owner's trash as the API answers it (``corpora.trash.TrashContents``)."""
    from corpora.trash import purge_time

    def url(name: str, *args) -> str:
        return absolute_url(context, reverse(name, args=args))

    payload = {
        "days": days,
        "corpora": [
            {
                "id": corpus.pk,
                "name": corpus.name,
                "description": corpus.description,
                "visibility": corpus.visibility,
                "image_count": corpus.image_count,
                "trashed_at": corpus.trashed_at,
                "purges_at": purge_time(corpus.trashed_at),
                "restore_url": url("api:trash-corpus-restore", corpus.pk),
            }
            for corpus in contents.corpora
        ],
        "images": [
            {
                "id": record.pk,
                "corpus_id": record.corpus_id,
                "corpus_name": record.corpus.name,
                "filename": record.original_filename,
                "width": record.width,
                "height": record.height,
                "byte_size": record.byte_size,
                "trashed_at": record.trashed_at,
                "purges_at": purge_time(record.trashed_at),
                "thumbnail_url": url("api:trash-image-thumbnail", record.pk),
                "restore_url": url("api:trash-image-restore", record.pk),
            }
            for record in contents.images
        ],
    }
    return TrashSerializer(payload).data


class TrashedImagesSerializer(serializers.Serializer):
    ids = _image_ids_field("Ids of images in your trash.")


class TrashedImagesRestoredSerializer(serializers.Serializer):
    restored = serializers.IntegerField()
    not_found = _not_found_field("Ids that are not images in your trash.")
