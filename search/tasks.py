"""django-q task entry points of the search app: thin wrappers around its jobs (their dotted
paths are stored in queued tasks and schedules, so keep the names stable)."""

from __future__ import annotations

from search.encoding import job, recovery, retries

ENCODE_TASK = "search.tasks.encode_corpus"


def encode_corpus(corpus_id: int) -> str:
    return job.encode_corpus(corpus_id=corpus_id).summary


def retry_indexing(corpus_id: int, attempt: int) -> str:
    """The automatic retry of a corpus whose indexing failed for a passing reason."""
    if not retries.start_retry(corpus_id):  # retried by its owner meanwhile: count afresh
        attempt = 0
    return job.encode_corpus(corpus_id=corpus_id, attempt=attempt).summary


def resume_stalled_indexing() -> str:
    resumed = recovery.resume_stalled_indexing()
    return f"indexing requested again for {len(resumed)} stalled corpora"
