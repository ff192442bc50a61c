"""What search derives from a corpus, in search's own tables (corpora's models hold none of it).

- :class:`ImageVector`: per image, encoder and kind, what the encoder made of the image: the
  vector, the encoder fingerprint it was made with, the predicted labels and their words, and
  whether encoding worked (``encoded``) or not (``failed``, with the error). An image has no row
  for an encoder until that encoder was run on it: such an image is *pending* for it. An image
  may hold rows of several encoders (while its corpus changes encoder, docs/architecture.md) and
  of several kinds (``image`` is the whole picture; region vectors or local features come next).
- :class:`CopyFeatures`: per image, what copy search verifies it with and finds its parts by:
  picture boxes, local features, the boxes' vectors (docs/copies.md).
- :class:`CorpusIndex`: per corpus, the live index: its version (directory name), how many
  vectors it holds, which encoder's vectors those are, whether it is stale, the indexing lease
  and when the last build started and finished.

Rows go with their image or corpus by ``on_delete=CASCADE`` from this side: corpora knows
nothing of these tables.
"""

from __future__ import annotations

from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import Value
from django.db.models.fields.json import KT
from django.db.models.functions import Concat

from corpora.models import Corpus, ImageRecord, TextSearchVector, words


class VectorKind(models.TextChoices):
    IMAGE = "image", "Whole image"


class VectorStatus(models.TextChoices):
    ENCODED = "encoded", "Encoded"
    FAILED = "failed", "Failed"


class LabelDocument(TextSearchVector):
    """The words of the first four predicted labels, each label under its own weight (A: the
    best, B, C, D: the fourth), so that text search tells which label holds a word — and so its
    probability — without parsing the labels again for every candidate (search/text.py)."""

    def __init__(self) -> None:
        def label_words(index: int) -> Concat:
            return Concat(
                KT(f"labels__{index}__label"),
                Value(" "),
                KT(f"labels__{index}__synonyms"),
                output_field=models.TextField(),
            )

        super().__init__(
            words(label_words(0), "A")
            + words(label_words(1), "B")
            + words(label_words(2), "C")
            + words(label_words(3), "D")
        )


class LabelWords(TextSearchVector):
    """Every predicted label's words (all five labels, synonyms included): what text search's
    GIN index finds an image's labels by."""

    def __init__(self) -> None:
        bars_to_spaces = models.Func(
            models.F("label_text"),
            Value("|"),
            Value(" "),
            function="replace",
            output_field=models.TextField(),
        )
        super().__init__(words(bars_to_spaces, "B"))


class ImageVectorQuerySet(models.QuerySet["ImageVector"]):
    def encoded(self) -> ImageVectorQuerySet:
        return self.filter(status=VectorStatus.ENCODED).exclude(vector=None)

    def of_images(self) -> ImageVectorQuerySet:
        return self.filter(kind=VectorKind.IMAGE)


class ImageVector(models.Model):
    image = models.ForeignKey(ImageRecord, on_delete=models.CASCADE, related_name="vectors")
    # The image's corpus, repeated: every read of a corpus's vectors filters on it alone.
    corpus = models.ForeignKey(Corpus, on_delete=models.CASCADE, related_name="+")
    encoder = models.CharField(max_length=100, help_text="Name of the encoder that made it.")
    kind = models.CharField(max_length=20, choices=VectorKind.choices, default=VectorKind.IMAGE)
    fingerprint = models.CharField(
        max_length=64, help_text="The encoder version it was made with (or tried, if failed)."
    )
    vector = models.BinaryField(null=True, blank=True, editable=False)
    status = models.CharField(max_length=10, choices=VectorStatus.choices)
    error = models.TextField(blank=True)
    # Top-5 ImageNet labels predicted with the vector: [{"label", "synonyms", "probability"}].
    labels = models.JSONField(default=list, blank=True)
    # "|a|b|" lower-case label names with synonyms: the exact-word label filter reads it.
    label_text = models.TextField(blank=True, editable=False)
    # Text search's documents of the labels (PostgreSQL; computed by the database).
    label_words = models.GeneratedField(
        expression=LabelWords(), output_field=SearchVectorField(), db_persist=True
    )
    label_document = models.GeneratedField(
        expression=LabelDocument(), output_field=SearchVectorField(), db_persist=True
    )
    # A copy of the image's ``ImageRecord.search_document`` (the owner's words: tags, caption,
    # file name), so that text search finds and scores an encoded image from this row alone,
    # GIN-indexed (search/text/ranking.py). PostgreSQL keeps it, whatever writes either row:
    # triggers of search migration 0004 copy it when a row is inserted and whenever the
    # owner's words change. Unused (null) on other databases.
    owner_words = SearchVectorField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ImageVectorQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["image", "encoder", "kind"], name="one_vector_per_image_encoder_kind"
            )
        ]
        indexes = [
            models.Index(
                fields=["corpus", "encoder", "kind", "status"], name="vector_corpus_encoder_kind"
            )
        ]

    def __str__(self) -> str:
        return f"{self.encoder} {self.kind} vector of image {self.image_id}"


class CorpusIndex(models.Model):
    corpus = models.OneToOneField(
        Corpus, on_delete=models.CASCADE, primary_key=True, related_name="search_index"
    )
    encoder = models.CharField(
        max_length=100,
        blank=True,
        help_text="The encoder whose vectors the live index holds (the corpus's own encoder "
        "unless a change of encoder is under way).",
    )
    version = models.CharField(
        max_length=40, blank=True, help_text="Directory name of the live index; empty if none."
    )
    indexed_count = models.PositiveIntegerField(default=0, help_text="Vectors in the live index.")
    stale = models.BooleanField(
        default=False, help_text="Images were removed or added since the live index was built."
    )
    # A lease instead of a long DB lock: the worker holding it is the only one encoding and
    # building this corpus's index; a crashed worker's lease simply runs out.
    lease_token = models.CharField(max_length=32, blank=True, editable=False)
    lease_until = models.DateTimeField(null=True, blank=True, editable=False)
    build_started_at = models.DateTimeField(null=True, blank=True)
    build_finished_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        verbose_name_plural = "corpus indices"

    def __str__(self) -> str:
        return f"index of corpus {self.corpus_id}: {self.version or 'none'}"

    @classmethod
    def of(cls, corpus: Corpus | int) -> CorpusIndex:
        """The corpus's row, made on first use (its encoder: the corpus's)."""
        corpus_id = corpus if isinstance(corpus, int) else corpus.pk
        found = cls.objects.filter(corpus_id=corpus_id).first()
        if found is not None:
            return found
        if isinstance(corpus, int):
            corpus = Corpus.objects.get(pk=corpus_id)
        found, _ = cls.objects.get_or_create(corpus=corpus, defaults={"encoder": corpus.encoder})
        return found

    @property
    def serving_encoder(self) -> str:
        return self.encoder or self.corpus.encoder


class CopyFeatures(models.Model):
    """Per image, what copy search verifies it with (docs/copies.md): the picture boxes found
    in it (a collage's cells, a screenshot's photos) and the local features (SIFT keypoints and
    uint8 descriptors) of the whole picture and of its first boxes, packed by
    ``search.copies.local.pack_sets``, and the encoder's vectors of the boxes. Made when the
    image is encoded. ``version`` names the feature format and box detector
    (``search.copies.store``): rows of another version are made again."""

    image = models.OneToOneField(
        ImageRecord, on_delete=models.CASCADE, primary_key=True, related_name="copy_features"
    )
    corpus = models.ForeignKey(Corpus, on_delete=models.CASCADE, related_name="+")
    version = models.PositiveIntegerField()
    boxes = models.JSONField(default=list, blank=True)  # [[left, top, right, bottom], ...]
    local_features = models.BinaryField(editable=False)
    keypoints = models.PositiveIntegerField(default=0)
    # The encoder's vectors of the boxes (float32, len(boxes) × dim), searched beside the
    # index (search.copies.parts_index), and the encoder version that made them.
    box_vectors = models.BinaryField(null=True, blank=True, editable=False)
    box_fingerprint = models.CharField(max_length=64, blank=True)
    # Each feature set's visual words (search.copies.words.pack: uint16 a keypoint), searched
    # by search.copies.words_index, and the vocabulary that made them (its hash; words of
    # another are made again from local_features).
    words = models.BinaryField(null=True, blank=True, editable=False)
    words_version = models.CharField(max_length=16, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "copy features"
        # With the image: the parts and words indexes' "which images are described" (count,
        # last id, words of this vocabulary) is read from this index alone, never from the rows
        # (~35-60 KiB each).
        indexes = [
            models.Index(
                fields=["corpus", "version", "words_version", "image"],
                name="copy_features_worded",
            )
        ]

    def __str__(self) -> str:
        return f"copy features of image {self.image_id}"
