"""The data of a corpus: the corpus itself and one record per stored image."""

from __future__ import annotations

import json
import uuid
from pathlib import PurePosixPath

from django.conf import settings
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models
from django.db.models import F, Func, Value
from django.utils import timezone


class Visibility(models.TextChoices):
    PRIVATE = "private", "Private"
    PUBLIC = "public", "Public"


class CorpusStatus(models.TextChoices):
    EMPTY = "empty", "Empty"
    INDEXING = "indexing", "Indexing"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class ImageStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ENCODED = "encoded", "Encoded"
    FAILED = "failed", "Failed"


def in_trash_index(name: str) -> models.Index:
    """The rows in the trash, for the trash pages and the purge. Partial: live rows, nearly all
    of them, are not in it, so the planner can never take it for ``trashed_at IS NULL`` (before
    a table is analysed it did, and read every live row of the table for an 11-row lookup)."""
    return models.Index(
        fields=["trashed_at"], condition=models.Q(trashed_at__isnull=False), name=name
    )


class CorpusQuerySet(models.QuerySet["Corpus"]):
    def live(self) -> CorpusQuerySet:
        """Corpora not in the trash (docs/trash.md): the only ones anyone sees or searches."""
        return self.filter(trashed_at__isnull=True)

    def in_trash(self) -> CorpusQuerySet:
        return self.filter(trashed_at__isnull=False)

    def visible_to(self, user) -> CorpusQuerySet:
        """Corpora ``user`` may read: their own plus every public one, none in the trash."""
        public = models.Q(visibility=Visibility.PUBLIC)
        if user is not None and user.is_authenticated:
            return self.live().filter(public | models.Q(owner=user))
        return self.live().filter(public)

    def owned_by(self, user) -> CorpusQuerySet:
        """The corpora ``user`` owns, except those in the trash."""
        if user is None or not user.is_authenticated:
            return self.none()
        return self.live().filter(owner=user)

    def expired(self, now=None) -> CorpusQuerySet:
        return self.filter(expires_at__isnull=False, expires_at__lte=now or timezone.now())

    def with_counts(self) -> CorpusQuerySet:
        """Annotated with the counts of their images (those in the trash left out)."""
        count, q = models.Count, models.Q
        kept = q(images__trashed_at__isnull=True)
        return self.annotate(
            image_count=count("images", filter=kept),
            encoded_count=count("images", filter=kept & q(images__status=ImageStatus.ENCODED)),
            pending_count=count("images", filter=kept & q(images__status=ImageStatus.PENDING)),
            failed_count=count("images", filter=kept & q(images__status=ImageStatus.FAILED)),
        )


class Corpus(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="corpora"
    )
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    visibility = models.CharField(
        max_length=10, choices=Visibility.choices, default=Visibility.PRIVATE
    )
    encoder = models.CharField(
        max_length=100, help_text="Name of the encoder whose vectors this corpus holds."
    )
    status = models.CharField(
        max_length=10, choices=CorpusStatus.choices, default=CorpusStatus.EMPTY, db_index=True
    )
    status_message = models.TextField(blank=True, help_text="Why the last indexing failed.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # Deleted by its owner: in the trash since then, purged CRIER_TRASH_DAYS later
    # (corpora/trash.py). A corpus in the trash is seen by nobody but its owner's Trash page.
    trashed_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = CorpusQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "corpora"
        ordering = ["-created_at", "-id"]
        constraints = [
            # A corpus in the trash leaves its name free (restoring renames it on a clash).
            models.UniqueConstraint(
                fields=["owner", "name"],
                condition=models.Q(trashed_at__isnull=True),
                name="unique_corpus_name_per_owner",
            )
        ]
        indexes = [in_trash_index("corpus_in_trash")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_public(self) -> bool:
        return self.visibility == Visibility.PUBLIC

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def in_trash(self) -> bool:
        return self.trashed_at is not None


def image_upload_to(record: ImageRecord, filename: str) -> str:
    """Store under a generated name. Ingestion passes a name whose extension is that of the
    detected format (never the client's); only that (sanitised, lower-case) extension is kept."""
    suffix = PurePosixPath(filename).suffix.lower()
    if not suffix[1:].isalnum() or len(suffix) > 6:
        suffix = ""
    return f"corpora/{record.corpus_id}/{uuid.uuid4().hex}{suffix}"


THUMBNAIL_SIDE = 320  # long side of every thumbnail, in pixels (corpora/thumbnails.py)
DISPLAY_SIDE = 800  # long side at which the image page shows a picture, in CSS pixels
# Formats every browser shows in an <img>; the image page shows the thumbnail of the others.
BROWSER_FORMATS = frozenset({"JPEG", "PNG", "GIF", "WEBP", "BMP"})


def thumbnail_upload_to(record: ImageRecord, filename: str) -> str:
    """Beside the original (``filename`` is the original's name with ``.thumb.webp``)."""
    return f"corpora/{record.corpus_id}/{PurePosixPath(filename).name}"


# The language whose stemming rules the text-search document uses ("dogs" finds "dog").
TEXT_SEARCH_CONFIG = "english"


def words(expression, weight: str) -> SearchVector:
    return SearchVector(expression, config=TEXT_SEARCH_CONFIG, weight=weight)


class TextSearchVector(Func):
    """A tsvector that PostgreSQL computes and stores (a generated column): the database keeps
    it in step with every write of the fields it reads, whatever wrote them. On other databases
    it is an empty string, unused (text search reads the plain columns there). Changing one
    needs a migration that drops and re-adds its column."""

    output_field = SearchVectorField()
    template = "%(expressions)s"

    def as_sql(self, compiler, connection, **extra_context):
        if connection.vendor != "postgresql":
            return "''", []
        return super().as_sql(compiler, connection, **extra_context)


class SearchDocument(TextSearchVector):
    """Text search's document of what the owner said about an image (docs/metadata.md): its
    tags (weight A), caption (C) and file name without extension (D). The predicted labels'
    words (B) are search's, in ``search.models.ImageVector.label_words``."""

    def __init__(self) -> None:
        text = models.TextField()

        def bars_to_spaces(field: str) -> Func:
            return Func(F(field), Value("|"), Value(" "), function="replace", output_field=text)

        # "IMG_0042.dog-park.jpg" -> "IMG 0042 dog park": separators become spaces, the
        # extension goes (a query "jpg" should not match every JPEG by its name).
        stem = Func(
            F("original_filename"),
            Value(r"\.[[:alnum:]]{1,5}$"),
            Value(""),
            function="regexp_replace",
            output_field=text,
        )
        filename = Func(stem, Value("_.-"), Value("   "), function="translate", output_field=text)
        super().__init__(
            words(bars_to_spaces("tag_text"), "A") + words(F("caption"), "C") + words(filename, "D")
        )


class ImageRecordQuerySet(models.QuerySet["ImageRecord"]):
    def in_trash(self) -> ImageRecordQuerySet:
        return self.filter(trashed_at__isnull=False)


class LiveImageManager(models.Manager.from_queryset(ImageRecordQuerySet)):  # type: ignore[misc]
    """``ImageRecord.objects`` and ``corpus.images``: the images not in the trash. Every read
    (pages, API, search, index builds, duplicates, counts) goes through it, so an image in the
    trash is nowhere to be seen; ``ImageRecord.all_objects`` has them all (the trash itself,
    the orphan sweep). Deleting a corpus deletes its images in the trash too (cascades use the
    plain base manager)."""

    def get_queryset(self) -> ImageRecordQuerySet:
        return super().get_queryset().filter(trashed_at__isnull=True)


class ImageRecord(models.Model):
    corpus = models.ForeignKey(Corpus, on_delete=models.CASCADE, related_name="images")
    file = models.FileField(upload_to=image_upload_to, max_length=255)
    thumbnail = models.FileField(
        upload_to=thumbnail_upload_to, max_length=255, blank=True, editable=False
    )
    original_filename = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    format = models.CharField(max_length=16, help_text="Pillow's format name, e.g. JPEG.")
    byte_size = models.PositiveBigIntegerField()
    # Where the image stands for its owner: pending until search has encoded it with the
    # corpus's encoder (encoded: searchable) or given up (failed, with the error). Search's
    # own per-encoder state is search.models.ImageVector.
    status = models.CharField(
        max_length=10, choices=ImageStatus.choices, default=ImageStatus.PENDING, db_index=True
    )
    error = models.TextField(blank=True)
    metadata = models.JSONField(
        default=dict, blank=True, help_text="Free JSON object from the uploader (4 KB at most)."
    )
    # From the file's EXIF, read at ingest (docs/metadata.md); empty when absent or unreadable.
    taken_at = models.DateTimeField(null=True, blank=True, db_index=True)
    camera_make = models.CharField(max_length=100, blank=True)
    camera_model = models.CharField(max_length=100, blank=True)
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    # From the uploader.
    tags = models.JSONField(default=list, blank=True)
    caption = models.TextField(blank=True)
    # "|a|b|" lower-case copy of the tags, kept in step by the services that write them:
    # the exact-tag filter on both databases and text search read it.
    tag_text = models.TextField(blank=True, editable=False)
    # Text search's document of the owner's words (PostgreSQL; GIN-indexed, migration 0008):
    # computed by the database from the fields above, never written by Django.
    search_document = models.GeneratedField(
        expression=SearchDocument(), output_field=SearchVectorField(), db_persist=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Deleted by the owner: in the trash since then (corpora/trash.py), file and vector kept.
    trashed_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = LiveImageManager()
    all_objects = models.Manager.from_queryset(ImageRecordQuerySet)()

    class Meta:
        ordering = ["-created_at", "-id"]
        # An image in the trash still holds its bytes: uploading them again restores it.
        constraints = [
            models.UniqueConstraint(
                fields=["corpus", "sha256"], name="unique_image_bytes_per_corpus"
            )
        ]
        indexes = [models.Index(fields=["corpus", "status"]), in_trash_index("image_in_trash")]

    def __str__(self) -> str:
        return self.original_filename

    def fitted_size(self, side: int) -> tuple[int, int]:
        """Width and height scaled to a long side of at most ``side``, never enlarged."""
        scale = min(1.0, side / max(self.width, self.height, 1))
        return max(1, round(self.width * scale)), max(1, round(self.height * scale))

    @property
    def thumbnail_size(self) -> tuple[int, int]:
        """Width and height of the thumbnail: long side ``THUMBNAIL_SIDE``."""
        return self.fitted_size(THUMBNAIL_SIDE)

    @property
    def display_size(self) -> tuple[int, int]:
        """Width and height of the picture on the image page: long side ``DISPLAY_SIDE``."""
        return self.fitted_size(DISPLAY_SIDE)

    @property
    def labels(self) -> list[dict]:
        """The labels the corpus's encoder predicted, best first ([] when none): search keeps
        them and answers ``corpora.signals.labels_requested``. A list of records gets them in
        one go from ``corpora.selectors.attach_labels``; a lone record asks on first use."""
        if "_labels" not in self.__dict__:
            from corpora.signals import predicted_labels

            self._labels = predicted_labels([self.pk]).get(self.pk, []) if self.pk else []
        return self._labels

    @labels.setter
    def labels(self, value: list[dict]) -> None:
        self._labels = value

    @property
    def labels_loaded(self) -> bool:
        """Whether ``labels`` is known without asking (set, or asked for already)."""
        return "_labels" in self.__dict__

    @property
    def metadata_text(self) -> str:
        """The free metadata as indented JSON text; empty when there is none."""
        if not self.metadata:
            return ""
        return json.dumps(self.metadata, indent=2, ensure_ascii=False)

    @property
    def shows_in_browser(self) -> bool:
        """Whether browsers can show the original file itself (not TIFF, for one)."""
        return self.format.upper() in BROWSER_FORMATS

    @property
    def thumbnail_width(self) -> int:
        return self.thumbnail_size[0]

    @property
    def thumbnail_height(self) -> int:
        return self.thumbnail_size[1]

    @property
    def has_location(self) -> bool:
        return self.latitude is not None and self.longitude is not None

    @property
    def camera(self) -> str:
        make, model = self.camera_make.strip(), self.camera_model.strip()
        # Many cameras repeat the make in the model name ("Canon" + "Canon EOS 5D").
        if make and model.lower().startswith(make.lower()):
            return model
        return " ".join(part for part in (make, model) if part)

    @property
    def content_type(self) -> str:
        from PIL import Image

        Image.init()  # every format plugin registers its MIME type (WebP, TIFF, ... too)
        return Image.MIME.get(self.format.upper(), "application/octet-stream")
