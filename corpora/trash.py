"""The trash (docs/trash.md): what an owner deletes waits there ``CRIER_TRASH_DAYS`` days.

Deleting an image or a corpus (pages, API, admin) sets its ``trashed_at``; nothing else changes:
the file, the thumbnail, the stored vector, the labels, tags and metadata stay as they were, so
restoring is clearing ``trashed_at`` again — no re-encoding. While in the trash:

- an image is left out of every read (``ImageRecord.objects`` and ``corpus.images`` skip it:
  pages, API, counts, search hits, index builds, duplicates), and its corpus's index is updated
  without it in the background; restored, the index takes it back the same way;
- a corpus is left out of every list and search and is a 404 for everyone (its owner too) until
  restored; its name is free for a new corpus, and restoring it under a name taken since then
  renames it ("holiday (restored)");
- uploading the same bytes again to its corpus takes an image out of the trash instead of
  storing a second copy (``corpora.services.ingest_files``).

The expiry task (``corpora.tasks.expire_corpora``, every minute) purges what has been in the
trash longer than the period: rows, files and index go as for any deletion. "Empty the trash" and
"delete forever" purge at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone

from corpora.models import Corpus, CorpusStatus, ImageRecord
from corpora.signals import indexing_requested
from crier_site.errors import NotFound

RESTORED_SUFFIX = " (restored)"


def trash_days() -> int:
    """How many days deleted things stay in the trash (``CRIER_TRASH_DAYS``, at least 0)."""
    return max(0, int(settings.CRIER_TRASH_DAYS))


def purge_time(trashed_at: datetime) -> datetime:
    """When something put in the trash at ``trashed_at`` is purged."""
    return trashed_at + timedelta(days=trash_days())


# --- into the trash ------------------------------------------------------------------------------


def trash_corpus(*, corpus: Corpus) -> None:
    """Move a corpus, with its images, to the trash: hidden everywhere until restored."""
    now = timezone.now()
    Corpus.objects.filter(pk=corpus.pk, trashed_at__isnull=True).update(trashed_at=now)
    corpus.trashed_at = corpus.trashed_at or now


def trash_images(*, corpus: Corpus, image_ids: Iterable[int]) -> int:
    """Move some of a corpus's images to the trash; the index follows in the background.
    Answers how many moved (ids not among the corpus's images are left alone)."""
    ids = [int(pk) for pk in image_ids]
    with transaction.atomic():
        moved = ImageRecord.objects.filter(corpus=corpus, pk__in=ids).update(
            trashed_at=timezone.now()
        )
        if moved:
            _index_changed(corpus)
    return moved


# --- out of the trash ----------------------------------------------------------------------------


def restore_corpus(*, corpus: Corpus) -> Corpus:
    """Take a corpus out of the trash as it was (images, vectors, index). If one of the owner's
    corpora took its name meanwhile, it comes back as "<name> (restored)" (or "(restored 2)"…)."""
    if corpus.trashed_at is None:
        return corpus
    base = corpus.name
    for attempt in range(1, 100):
        name = base if attempt == 1 else _restored_name(base, attempt - 1)
        if Corpus.objects.live().filter(owner_id=corpus.owner_id, name=name).exists():
            continue
        try:
            with transaction.atomic():
                Corpus.objects.filter(pk=corpus.pk).update(name=name, trashed_at=None)
        except IntegrityError:  # taken between the check and the update
            continue
        corpus.name, corpus.trashed_at = name, None
        return corpus
    raise NotFound(f"No free name to restore corpus {corpus.pk} under.")  # pragma: no cover


def _restored_name(base: str, n: int) -> str:
    suffix = RESTORED_SUFFIX if n == 1 else f" (restored {n})"
    return base[: Corpus._meta.get_field("name").max_length - len(suffix)] + suffix


def restore_images(*, records: Iterable[ImageRecord]) -> int:
    """Take images out of the trash (file, vector, labels as they were); each corpus's index
    takes them back in the background. Answers how many came back."""
    by_corpus: dict[int, list[int]] = {}
    for record in records:
        by_corpus.setdefault(record.corpus_id, []).append(record.pk)
    restored = 0
    with transaction.atomic():
        for corpus_id, ids in by_corpus.items():
            count = ImageRecord.all_objects.in_trash().filter(pk__in=ids).update(trashed_at=None)
            if count:
                restored += count
                _index_changed(Corpus(pk=corpus_id))
    return restored


# --- purging -------------------------------------------------------------------------------------


def purge_corpus(*, corpus: Corpus) -> None:
    """Delete a corpus for good: rows, files and index go once this commits."""
    with transaction.atomic():
        corpus.delete()


def purge_images(*, records: Iterable[ImageRecord]) -> int:
    """Delete images in the trash for good (files go once this commits). The index no longer
    holds them: it dropped them when they went to the trash."""
    ids = [record.pk for record in records]
    with transaction.atomic():
        _, deleted = ImageRecord.all_objects.in_trash().filter(pk__in=ids).delete()
    return deleted.get(ImageRecord._meta.label, 0)  # not the rows other apps cascade


@dataclass(frozen=True)
class Purged:
    corpora: int
    images: int  # images purged on their own (not counting those of purged corpora)


def empty_trash(*, owner) -> Purged:
    """Delete for good everything in ``owner``'s trash."""
    contents = trash_of(owner=owner)
    for corpus in contents.corpora:
        purge_corpus(corpus=corpus)
    return Purged(corpora=len(contents.corpora), images=purge_images(records=contents.images))


def purge_expired_trash(*, now: datetime | None = None) -> Purged:
    """Delete for good what has been in the trash longer than ``CRIER_TRASH_DAYS``."""
    cutoff = (now or timezone.now()) - timedelta(days=trash_days())
    corpora = list(Corpus.objects.in_trash().filter(trashed_at__lte=cutoff))
    for corpus in corpora:
        purge_corpus(corpus=corpus)
    images = ImageRecord.all_objects.in_trash().filter(trashed_at__lte=cutoff)
    with transaction.atomic():
        _, deleted = images.delete()
    return Purged(corpora=len(corpora), images=deleted.get(ImageRecord._meta.label, 0))


# --- what is in the trash ------------------------------------------------------------------------


@dataclass(frozen=True)
class TrashContents:
    corpora: list[Corpus]  # newest first, each with ``image_count`` and ``purges_at``
    images: list[ImageRecord]  # of corpora not in the trash, newest first, with their corpus
    # and ``purges_at``

    @property
    def is_empty(self) -> bool:
        return not (self.corpora or self.images)


def trash_of(*, owner) -> TrashContents:
    """What ``owner`` has in the trash: corpora, and images of their other corpora (an image of
    a corpus in the trash comes back with its corpus, so it is not listed on its own)."""
    if owner is None or not owner.is_authenticated:
        return TrashContents([], [])
    corpora = (
        Corpus.objects.in_trash()
        .filter(owner=owner)
        .annotate(image_count=Count("images", filter=Q(images__trashed_at__isnull=True)))
        .order_by("-trashed_at", "-pk")
    )
    images = (
        ImageRecord.all_objects.in_trash()
        .filter(corpus__owner=owner, corpus__trashed_at__isnull=True)
        .select_related("corpus")
        .order_by("-trashed_at", "-pk")
    )
    contents = TrashContents(list(corpora), list(images))
    for item in [*contents.corpora, *contents.images]:
        item.purges_at = purge_time(item.trashed_at)
    return contents


def trashed_corpus(*, owner, corpus_id: int) -> Corpus:
    """One of ``owner``'s corpora in the trash; anything else is "not found"."""
    try:
        return Corpus.objects.in_trash().get(pk=corpus_id, owner=owner)
    except (Corpus.DoesNotExist, ValueError, TypeError):
        raise NotFound(f"Corpus {corpus_id} is not in your trash.") from None


def trashed_images(*, owner, image_ids: Iterable[int]) -> list[ImageRecord]:
    """Those of ``image_ids`` that are ``owner``'s images in the trash (of corpora that are not:
    the others come back with their corpus)."""
    ids = [int(pk) for pk in image_ids]
    return list(
        ImageRecord.all_objects.in_trash()
        .filter(pk__in=ids, corpus__owner=owner, corpus__trashed_at__isnull=True)
        .order_by("pk")
    )


def trashed_image(*, owner, image_id: int) -> ImageRecord:
    found = trashed_images(owner=owner, image_ids=[image_id])
    if not found:
        raise NotFound(f"Image {image_id} is not in your trash.")
    return found[0]


# --- the index -----------------------------------------------------------------------------------


def _index_changed(corpus: Corpus) -> None:
    """Images of the corpus left or came back: its index is rebuilt from the vectors of the
    images not in the trash, in the background once this commits (search hits skip images in
    the trash at once, before that)."""
    Corpus.objects.filter(pk=corpus.pk).update(
        status=CorpusStatus.INDEXING, updated_at=timezone.now()
    )
    indexing_requested.send(sender=Corpus, corpus_id=corpus.pk, synchronous=False, stale=True)
