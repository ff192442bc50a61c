"""The indexing lease: which worker encodes a corpus and builds its index right now.

A token and an expiry on the corpus's index row (``search.models.CorpusIndex``) rather than a
database lock held for the whole job: a worker that dies simply stops renewing its lease, and at
most ``LEASE`` later another worker may take the corpus over (``search.encoding.recovery``
re-enqueues such corpora every minute). While a job runs, a heartbeat thread renews the lease
every ``HEARTBEAT_SECONDS`` — also during an index build, which has no batch boundary to renew it
at — so the lease can be short.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import connection
from django.db.models import Q
from django.utils import timezone

from search.models import CorpusIndex

logger = logging.getLogger(__name__)

LEASE = timedelta(seconds=30)
HEARTBEAT_SECONDS = 5.0


class LeaseLost(Exception):
    """Another worker took the corpus over (this one stalled past its lease): store nothing."""


@dataclass
class Lease:
    corpus_id: int
    token: str
    lost: threading.Event = field(default_factory=threading.Event, repr=False)

    @classmethod
    def acquire(cls, corpus_id: int) -> Lease | None:
        """The corpus's lease if nobody holds a live one; ``None`` otherwise (``Corpus.
        DoesNotExist`` if there is no such corpus)."""
        token, now = uuid.uuid4().hex, timezone.now()
        free = Q(lease_until__isnull=True) | Q(lease_until__lt=now)
        rows = CorpusIndex.objects.filter(free, corpus_id=corpus_id)
        taken = rows.update(lease_token=token, lease_until=now + LEASE)
        if not taken and not CorpusIndex.objects.filter(corpus_id=corpus_id).exists():
            CorpusIndex.of(corpus_id)  # a corpus's first job makes its row, then takes it
            taken = rows.update(lease_token=token, lease_until=now + LEASE)
        return cls(corpus_id, token) if taken else None

    def renew(self) -> bool:
        """Push the expiry out; ``False`` (and ``lost`` set) if the lease is no longer ours."""
        held = CorpusIndex.objects.filter(corpus_id=self.corpus_id, lease_token=self.token).update(
            lease_until=timezone.now() + LEASE
        )
        if not held:
            self.lost.set()
        return bool(held)

    def check(self) -> None:
        """Renew, or raise ``LeaseLost``. Inside a transaction the UPDATE also locks the corpus
        index row until commit, so writes made in that transaction are made under the lease."""
        if self.lost.is_set() or not self.renew():
            raise LeaseLost(f"corpus {self.corpus_id}: the indexing lease was taken over")

    def release(self) -> None:
        CorpusIndex.objects.filter(corpus_id=self.corpus_id, lease_token=self.token).update(
            lease_token="", lease_until=None
        )

    @contextmanager
    def heartbeat(self, interval: float = HEARTBEAT_SECONDS) -> Iterator[None]:
        """Renew the lease from a thread while the block runs.

        Not inside an atomic block: the thread has its own database connection, which cannot see
        the caller's uncommitted lease and would wait on its row lock (the test suite wraps each
        test in a transaction; the job then renews per batch only).
        """
        if connection.in_atomic_block:
            yield
            return
        stop = threading.Event()
        thread = threading.Thread(
            target=self._beat, args=(stop, interval), name=f"lease-{self.corpus_id}", daemon=True
        )
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def _beat(self, stop: threading.Event, interval: float) -> None:
        try:
            while not stop.wait(interval):
                if not self.renew():
                    logger.warning("corpus %s: indexing lease lost", self.corpus_id)
                    return
        except Exception:  # a database hiccup: the per-batch renewals still run
            logger.exception("corpus %s: lease heartbeat failed", self.corpus_id)
        finally:
            connection.close()
