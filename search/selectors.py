"""Reads of what search stores: a corpus's index state and its stored vectors (the one query
every index build, exact search and expansion uses)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from django.db import connection
from django.db.models import F, JSONField, QuerySet, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce

from corpora.models import Corpus, ImageRecord
from corpora.selectors import get_readable_corpus
from search.models import CorpusIndex, ImageVector, VectorKind, VectorStatus


def corpus_index(corpus: Corpus | int) -> CorpusIndex:
    """The corpus's index state (version, count, staleness, lease), made on first use."""
    return CorpusIndex.of(corpus)


# The live index's version read with the corpus (``get_searched_corpus``), as an attribute.
LOADED_VERSION = "loaded_index_version"


def get_searched_corpus(*, user, corpus_id: int) -> Corpus:
    """``corpora.selectors.get_readable_corpus`` with the live index's version read in the same
    query (a join on the index row), so that a search makes no round trip of its own for it,
    as when the version was a column of the corpus (708a49f)."""
    version = Coalesce(F("search_index__version"), Value(""))
    return get_readable_corpus(
        user=user, corpus_id=corpus_id, annotations={LOADED_VERSION: version}
    )


def index_version(corpus: Corpus) -> str:
    """The live index's version of ``corpus`` ("" when it has none), read now."""
    return (
        CorpusIndex.objects.filter(corpus_id=corpus.pk).values_list("version", flat=True).first()
        or ""
    )


def live_version(corpus: Corpus) -> str:
    """The live index's version as read with ``corpus`` (``get_searched_corpus``: no query, and
    as fresh as the corpus row itself), else read now (``index_version``)."""
    loaded = getattr(corpus, LOADED_VERSION, None)
    return loaded if loaded is not None else index_version(corpus)


def serving_encoder(corpus: Corpus) -> str:
    """The encoder whose vectors the corpus's index holds: the corpus's own, unless a change of
    encoder is under way (then the previous one, until the swap)."""
    found = CorpusIndex.objects.filter(corpus_id=corpus.pk).values_list("encoder", flat=True)
    return found.first() or corpus.encoder


def encoded_vectors(
    *,
    corpus: Corpus,
    encoder: str | None = None,
    fingerprint: str | None = None,
    record_ids: Iterable[int] | None = None,
) -> QuerySet[ImageVector]:
    """The corpus's stored whole-image vectors of ``encoder`` (default: the serving one): of
    encoder version ``fingerprint`` when given, of the images ``record_ids`` when given. Images
    in the trash are left out (docs/trash.md)."""
    vectors = ImageVector.objects.encoded().filter(
        corpus=corpus,
        encoder=encoder or serving_encoder(corpus),
        kind=VectorKind.IMAGE,
        image__trashed_at__isnull=True,
    )
    if fingerprint is not None:
        vectors = vectors.filter(fingerprint=fingerprint)
    if record_ids is not None:
        vectors = vectors.filter(image_id__in=[int(pk) for pk in record_ids])
    return vectors


def as_vector(blob: bytes) -> np.ndarray:
    """A stored vector as the float32 array it was written from."""
    return np.frombuffer(blob, dtype=np.float32)


def image_labels(record_ids: Iterable[int]) -> dict[int, list[dict]]:
    """The predicted labels of each image (of its corpus's serving encoder; images without
    any are left out)."""
    rows = (
        ImageVector.objects.filter(
            image_id__in=list(record_ids), kind=VectorKind.IMAGE, status=VectorStatus.ENCODED
        )
        .order_by("image_id", "-updated_at")
        .values_list("image_id", "encoder", "labels", "image__corpus__search_index__encoder")
    )
    found: dict[int, list[dict]] = {}
    for image_id, encoder, labels, serving in rows:
        if encoder == serving or image_id not in found:
            found[image_id] = labels or []
    return found


def with_labels(images: QuerySet[ImageRecord], encoder: str) -> QuerySet[ImageRecord]:
    """``images`` with their predicted labels read in the same query, as ``served_labels``
    (None: none): those of their vector of ``encoder``, the serving one, which every hit of
    the live index has. A scalar subquery on the unique image/encoder/kind key, written as
    SQL: the same rows as a ``FilteredRelation`` join, but that join cost ~1 ms more per search
    (compiling it, and planning it) — 14-17 % of a 10k search (docs/benchmarks.md)."""
    vectors = ImageVector._meta.db_table
    records = ImageRecord._meta.db_table
    labels = RawSQL(
        f'SELECT v."labels" FROM "{vectors}" v WHERE v."image_id" = "{records}"."id" '
        'AND v."encoder" = %s AND v."kind" = %s AND v."status" = %s',
        (encoder, VectorKind.IMAGE.value, VectorStatus.ENCODED.value),
        output_field=JSONField(),
    )
    return images.annotate(served_labels=labels)


def image_and_vector(
    *, corpus_id: int, image_id: int, encoder: str
) -> tuple[str, bytes | None, str | None] | None:
    """(status, vector, fingerprint) of a live image of the corpus and of its encoded vector of
    ``encoder`` (None, None where it has none); None: no such image. One statement, written as
    SQL for the reason of ``with_labels``: the ORM's ``FilteredRelation`` join cost ~1 ms a
    "more like this" to compile and plan (docs/benchmarks.md, "Refactor check")."""
    vectors = ImageVector._meta.db_table
    records = ImageRecord._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT r."status", v."vector", v."fingerprint" FROM "{records}" r '
            f'LEFT JOIN "{vectors}" v ON v."image_id" = r."id" AND v."encoder" = %s '
            'AND v."kind" = %s AND v."status" = %s '
            'WHERE r."id" = %s AND r."corpus_id" = %s AND r."trashed_at" IS NULL',
            [encoder, VectorKind.IMAGE.value, VectorStatus.ENCODED.value, image_id, corpus_id],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    status, vector, fingerprint = row
    return status, None if vector is None else bytes(vector), fingerprint


def index_facts(corpus_ids: Iterable[int]) -> dict[int, dict]:
    """Per corpus: its live index's version and size, the encoder whose vectors it holds, and
    during a change of encoder how many images the new one has done (what corpora shows)."""
    ids = list(corpus_ids)
    rows = CorpusIndex.objects.filter(corpus_id__in=ids).values_list(
        "corpus_id", "version", "indexed_count", "encoder", "corpus__encoder"
    )
    facts = {}
    for corpus_id, version, count, serving, target in rows:
        serving = serving or target
        done = None
        if serving != target:
            done = (
                ImageVector.objects.filter(
                    corpus_id=corpus_id, encoder=target, kind=VectorKind.IMAGE
                )
                .filter(image__trashed_at__isnull=True)
                .count()
            )
        facts[corpus_id] = {
            "index_version": version,
            "indexed_count": count,
            "index_encoder": serving,
            "reencoded_count": done,
        }
    return facts
