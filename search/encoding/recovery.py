"""Crash recovery: work nobody is doing is handed to a live worker.

A corpus has work when it has pending images or a stale index, or is in status "indexing";
a job holds the corpus's lease (``search.encoding.leases``) while it works on it. Work with no live
lease has nobody doing it: its task is still queued (one more task is then a cheap no-op: the
first one to run finds the work done), or the worker running it died (killed, out of memory, a
reboot) or took its queued task down with it, or the request that stored the images died
before it enqueued their task (a killed web worker, the database or broker gone midway). The
schedule ``search.tasks.resume_stalled_indexing`` requests indexing for those corpora again
every minute, so every pending image is encoded without anyone noticing the failure.

It looks at the pending images themselves, not only at the corpus's status: a request that
died after storing images may have left its corpus "ready". Failed corpora are left alone:
a build that failed for a passing reason is retried by its own backoff schedule
(``search.encoding.retries``), a permanent failure waits for its owner's "retry".
"""

from __future__ import annotations

import logging

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from corpora.models import Corpus, CorpusStatus, ImageRecord, ImageStatus
from corpora.services import request_indexing

logger = logging.getLogger(__name__)


def stalled_corpus_ids() -> list[int]:
    """Corpora with work (pending images, a stale index, status "indexing") that no worker
    holds a live lease on, failed ones aside."""
    now = timezone.now()
    unleased = (
        Q(search_index__isnull=True)
        | Q(search_index__lease_until__isnull=True)
        | Q(search_index__lease_until__lt=now)
    )
    pending = ImageRecord.objects.filter(corpus=OuterRef("pk"), status=ImageStatus.PENDING)
    has_work = Q(status=CorpusStatus.INDEXING) | Q(search_index__stale=True) | Q(Exists(pending))
    return list(
        Corpus.objects.filter(unleased)
        .filter(has_work)
        .exclude(status=CorpusStatus.FAILED)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def resume_stalled_indexing() -> list[int]:
    """Request indexing again for every stalled corpus; return their ids."""
    corpus_ids = stalled_corpus_ids()
    for corpus_id in corpus_ids:
        request_indexing(corpus_id=corpus_id)
    if corpus_ids:
        logger.info("indexing requested again for stalled corpora %s", corpus_ids)
    return corpus_ids
