"""Reads of corpora and images, with the permission rules in one place.

Private corpora of other users are reported as "not found", never "forbidden", so their
existence does not leak.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q

from corpora.models import Corpus, CorpusQuerySet, ImageRecord, ImageStatus, Visibility
from corpora.signals import predicted_labels
from crier_site.errors import CorpusNotFound, Forbidden, NotFound


def owned_corpora(*, user) -> CorpusQuerySet:
    """The corpora ``user`` owns (none for an anonymous visitor)."""
    return Corpus.objects.owned_by(user)


def visible_corpora(*, user) -> CorpusQuerySet:
    """The corpora ``user`` owns and every public one."""
    return Corpus.objects.visible_to(user)


def searchable_public_corpora(*, exclude_ids: tuple[int, ...] = (), limit: int = 12):
    """Public corpora with at least one searchable image, newest first, with their counts."""
    return (
        Corpus.objects.live()
        .filter(visibility=Visibility.PUBLIC)
        .exclude(pk__in=exclude_ids)
        .select_related("owner")
        .with_counts()
        .filter(encoded_count__gt=0)
        .order_by("-created_at", "-pk")[:limit]
    )


def get_readable_corpus(
    *, user, corpus_id: int, annotations: Mapping[str, Any] | None = None
) -> Corpus:
    """A corpus ``user`` may search and look at: their own, any public one; staff see all.
    None in the trash: it is "not found" for everyone until restored (corpora/trash.py).
    ``annotations``: what another app reads with the corpus in the same query (search: its
    index's live version, so that a search makes no round trip of its own for it)."""
    queryset = Corpus.objects.live() if _is_staff(user) else Corpus.objects.visible_to(user)
    return _get(queryset.annotate(**(annotations or {})), corpus_id)


def get_writable_corpus(*, user, corpus_id: int) -> Corpus:
    """A corpus ``user`` may change: only their own.

    Someone else's public corpus is "forbidden" (its existence is no secret); a private one, or
    one that does not exist, is "not found".
    """
    corpus = get_readable_corpus(user=user, corpus_id=corpus_id)
    if user is None or not user.is_authenticated or corpus.owner_id != user.pk:
        if corpus.is_public:
            raise Forbidden("Only the owner of this corpus can change it.")
        raise NotFound(f"Corpus {corpus_id} not found.")
    return corpus


def may_see_location(*, user, corpus: Corpus) -> bool:
    """GPS positions are the owner's to see, unless the owner made the corpus public."""
    if corpus.is_public:
        return True
    return bool(user is not None and user.is_authenticated and corpus.owner_id == user.pk)


def get_image(*, corpus: Corpus, image_id: int) -> ImageRecord:
    try:
        return corpus.images.get(pk=image_id)
    except (ImageRecord.DoesNotExist, ValueError, TypeError):
        raise NotFound(f"Image {image_id} not found in this corpus.") from None


@dataclass(frozen=True)
class Neighbours:
    """The images before and after one in the corpus page's order (newest first)."""

    previous: ImageRecord | None
    next: ImageRecord | None
    position: int  # 1-based place of the image in that order
    total: int


def image_neighbours(*, corpus: Corpus, record: ImageRecord) -> Neighbours:
    """Where ``record`` stands among its corpus's images in the grid's order (``-created_at,
    -id``): the one shown before it, the one after it, its place and the count."""
    images = corpus.images.only("pk", "original_filename", "created_at")
    newer = Q(created_at__gt=record.created_at) | Q(created_at=record.created_at, pk__gt=record.pk)
    older = Q(created_at__lt=record.created_at) | Q(created_at=record.created_at, pk__lt=record.pk)
    before = images.filter(newer)
    return Neighbours(
        previous=before.order_by("created_at", "id").first(),
        next=images.filter(older).order_by("-created_at", "-id").first(),
        position=before.count() + 1,
        total=corpus.images.count(),
    )


@dataclass(frozen=True)
class CorpusCounts:
    total: int
    encoded: int
    pending: int
    failed: int


def corpus_counts(*, corpus: Corpus) -> CorpusCounts:
    counts = ImageRecord.objects.filter(corpus=corpus).aggregate(
        total=Count("id"),
        encoded=Count("id", filter=Q(status=ImageStatus.ENCODED)),
        pending=Count("id", filter=Q(status=ImageStatus.PENDING)),
        failed=Count("id", filter=Q(status=ImageStatus.FAILED)),
    )
    return CorpusCounts(**counts)


def _get(queryset: CorpusQuerySet, corpus_id: int) -> Corpus:
    try:
        return queryset.get(pk=corpus_id)
    except (Corpus.DoesNotExist, ValueError, TypeError):
        raise CorpusNotFound(f"Corpus {corpus_id} not found.") from None


def _is_staff(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_staff)


def attach_labels(records: Iterable[ImageRecord]) -> list[ImageRecord]:
    """``records`` with their predicted labels loaded in one request (``ImageRecord.labels``);
    records whose labels were read with them (search's hits) ask nothing."""
    records = list(records)
    missing = [record for record in records if not record.labels_loaded]
    found = predicted_labels(record.pk for record in missing)
    for record in missing:
        record.labels = found.get(record.pk, [])
    return records
