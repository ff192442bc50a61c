"""django-q task entry points: thin wrappers around services (their dotted paths are stored in
queued tasks and schedules, so keep the names stable)."""

from __future__ import annotations

from corpora import cleanup, encoding


def encode_corpus(corpus_id: int) -> str:
    return encoding.encode_corpus(corpus_id=corpus_id).summary


def expire_corpora() -> str:
    deleted = cleanup.delete_expired_corpora()
    return f"deleted {len(deleted)} expired corpora"


def sweep_orphans() -> str:
    removed = cleanup.sweep_orphans()
    return f"removed {len(removed)} orphan files and directories"
