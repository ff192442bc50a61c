"""Crash recovery: corpora that a dead worker left half-indexed are handed to a live one.

A corpus is in status "indexing" from the moment it has work (an upload, a deletion, a reindex)
until a job finishes it, and a job holds the corpus's lease (``search.encoding.leases``) while it
runs.
An "indexing" corpus with no live lease has nobody working on it: either its task is still
queued (one more task is then a cheap no-op: the first one to run finds the work done), or the
worker running it died (killed, out of memory, a reboot) or took its queued task down with it.
The schedule ``search.tasks.resume_stalled_indexing`` requests indexing for those corpora again
every minute, so a corpus finishes without anyone noticing the crash.
"""

from __future__ import annotations

import logging

from django.db.models import Q
from django.utils import timezone

from corpora.models import Corpus, CorpusStatus
from corpora.services import request_indexing

logger = logging.getLogger(__name__)


def stalled_corpus_ids() -> list[int]:
    """Corpora waiting for indexing that no worker holds a live lease on."""
    unleased = Q(indexing_lease_until__isnull=True) | Q(indexing_lease_until__lt=timezone.now())
    return list(
        Corpus.objects.filter(unleased, status=CorpusStatus.INDEXING)
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
