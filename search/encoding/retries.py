"""Failed indexing, retried: a passing fault (I/O, a full disk, the database gone) is tried
again later with a growing delay; anything else, or a fault that outlasts every retry, leaves
the corpus "failed" with its reason until its owner asks for a retry.

The encoding job (``search.encoding.job``) hands every exception of a run to ``after_failure``.
The reason and what happens next are in the corpus's ``status_message``, which the API's corpus
and the corpus page show. A retry is a one-off django-q schedule per corpus
(``search.tasks.retry_indexing``, named ``retry indexing corpus <id>``), so it survives a
worker restart; the recovery schedule (``search.encoding.recovery``) leaves failed corpora to
it. Whatever the job stored before the failure stays stored, so a retry continues from there.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import InterfaceError, OperationalError
from django.utils import timezone
from django_q.models import Schedule
from django_q.tasks import schedule

from corpora.models import Corpus, CorpusStatus
from search.models import CorpusIndex

logger = logging.getLogger(__name__)

RETRY_TASK = "search.tasks.retry_indexing"
# Seconds before each automatic retry: 1, 2, 5, 10, 20, 30 minutes, then hourly (~5 h in all).
RETRY_DELAYS = (60, 120, 300, 600, 1200, 1800, 3600, 3600, 3600, 3600)
# Faults of the machine rather than of the corpus: another try may well succeed.
TRANSIENT = (OSError, OperationalError, InterfaceError)
OWNER_RETRY = "Use “Retry indexing” on the corpus page (or POST /api/v1/corpora/{id}/retry/)."


def is_transient(exc: BaseException) -> bool:
    return isinstance(exc, TRANSIENT)


def after_failure(corpus_id: int, exc: BaseException, *, attempt: int) -> timedelta | None:
    """Record that run ``attempt`` (0: the first run, n: the n-th retry) of the corpus's
    indexing failed with ``exc``; schedule the next retry if the fault may pass. Returns the
    delay before that retry, or None when the corpus stays failed until its owner retries."""
    reason = f"{type(exc).__name__}: {exc}"[:1000]
    delay = None
    if is_transient(exc) and attempt < len(RETRY_DELAYS):
        delay = timedelta(seconds=RETRY_DELAYS[attempt])
        at = timezone.now() + delay
        message = (
            f"Indexing failed ({reason}). It is retried automatically at "
            f"{at:%Y-%m-%d %H:%M} UTC (retry {attempt + 1} of {len(RETRY_DELAYS)})."
        )
    elif is_transient(exc):
        message = (
            f"Indexing failed ({reason}) and still failed after {len(RETRY_DELAYS)} automatic "
            f"retries. {OWNER_RETRY.format(id=corpus_id)}"
        )
    else:
        message = f"Indexing failed ({reason}). {OWNER_RETRY.format(id=corpus_id)}"
    try:
        # The index is rebuilt by the next run whatever the failed one had marked done.
        Corpus.objects.filter(pk=corpus_id).update(
            status=CorpusStatus.FAILED, status_message=message
        )
        CorpusIndex.objects.filter(pk=corpus_id).update(stale=True)
        if delay is not None:
            _schedule_retry(corpus_id, attempt + 1, timezone.now() + delay)
    except (OperationalError, InterfaceError):
        # The database is what failed: the corpus stays "indexing" with its lease running
        # out, so the every-minute recovery takes it up again once the database is back.
        logger.exception("corpus %s: could not record the failure", corpus_id)
        return None
    return delay


def retry_name(corpus_id: int) -> str:
    return f"retry indexing corpus {corpus_id}"


def _schedule_retry(corpus_id: int, attempt: int, at) -> None:
    Schedule.objects.filter(name=retry_name(corpus_id)).delete()
    schedule(
        RETRY_TASK,
        corpus_id,
        attempt,
        name=retry_name(corpus_id),
        schedule_type=Schedule.ONCE,
        repeats=-1,  # deleted once it ran
        next_run=at,
    )


def start_retry(corpus_id: int) -> bool:
    """Turn a failed corpus "indexing" again before a retry runs; False if it is not failed
    any more (its owner retried, or a new upload restarted it): the retry is then a no-op run."""
    return bool(
        Corpus.objects.filter(pk=corpus_id, status=CorpusStatus.FAILED).update(
            status=CorpusStatus.INDEXING
        )
    )
