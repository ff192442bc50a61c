"""django-q task entry points: thin wrappers around services (their dotted paths are stored in
queued tasks and schedules, so keep the names stable)."""

from __future__ import annotations

from corpora import cleanup, services, thumbnails, trash


def encode_corpus(corpus_id: int) -> str:
    """Tasks queued before the encoding job moved to ``search.tasks`` still name this path:
    hand the corpus to whoever does the indexing now (the search app)."""
    services.request_indexing(corpus_id=corpus_id)
    return f"corpus {corpus_id}: indexing requested again under search.tasks.encode_corpus"


def expire_corpora() -> str:
    """Every minute: temporary corpora past their expiry, and what has been in the trash
    longer than CRIER_TRASH_DAYS, are deleted for good."""
    deleted = cleanup.delete_expired_corpora()
    purged = trash.purge_expired_trash()
    return (
        f"deleted {len(deleted)} expired corpora; purged {purged.corpora} corpora and "
        f"{purged.images} images from the trash"
    )


def sweep_orphans() -> str:
    removed = cleanup.sweep_orphans()
    return f"removed {len(removed)} orphan files and directories"


def backfill_thumbnails() -> str:
    made = thumbnails.backfill()
    return f"made {made} missing thumbnails"
