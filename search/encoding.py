"""The encoding job of a corpus: pending images → vectors on their records → a fresh index.

Run by the ``search.tasks.encode_corpus`` task, which ``search.signals`` enqueues when
``corpora`` signals that a corpus needs indexing. Safe to run again at any time: each batch of
vectors is committed as it is computed, so a crashed run resumes where it stopped, and records
that are already encoded are never encoded again. A lease on the corpus row makes sure only one
worker encodes and builds a corpus at a time; a second task for the same corpus returns at once
(the first one loops until nothing is left to do).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from corpora.models import Corpus, CorpusStatus, ImageRecord, ImageStatus
from search import encoders
from search.indexing import update_index
from search.preprocessing import open_image

logger = logging.getLogger(__name__)

LEASE = timedelta(minutes=10)
PREPROCESS_THREADS = 2


@dataclass
class EncodeOutcome:
    corpus_id: int
    encoded: int = 0
    failed: int = 0
    index_version: str = ""
    busy: bool = False

    @property
    def summary(self) -> str:
        if self.busy:
            return f"corpus {self.corpus_id}: another worker is indexing it"
        return (
            f"corpus {self.corpus_id}: {self.encoded} encoded, {self.failed} failed, "
            f"index {self.index_version or 'none'}"
        )


def encode_corpus(*, corpus_id: int) -> EncodeOutcome:
    """Encode every pending record of the corpus, then rebuild its index if anything changed."""
    outcome = EncodeOutcome(corpus_id=corpus_id)
    while True:
        token = _acquire_lease(corpus_id)
        if token is None:
            outcome.busy = outcome.encoded == 0 and outcome.failed == 0
            return outcome
        try:
            _run_once(corpus_id, token, outcome)
        except Corpus.DoesNotExist:
            return outcome  # deleted while we worked: nothing left to do
        except Exception as exc:
            logger.exception("Indexing corpus %s failed", corpus_id)
            Corpus.objects.filter(pk=corpus_id).update(
                status=CorpusStatus.FAILED, status_message=f"{type(exc).__name__}: {exc}"[:2000]
            )
            raise
        finally:
            _release_lease(corpus_id, token)
        # Work that arrived while we held the lease was refused by its own task; pick it up.
        if not _has_work(corpus_id):
            return outcome


def _run_once(corpus_id: int, token: str, outcome: EncodeOutcome) -> None:
    corpus = Corpus.objects.get(pk=corpus_id)
    encoder = encoders.get_encoder(corpus.encoder)
    # Vectors of another encoder version cannot share an index with ours: encode them again.
    stale_vectors = ImageRecord.objects.filter(corpus=corpus, status=ImageStatus.ENCODED).exclude(
        encoder_fingerprint=encoder.fingerprint
    )
    changed = stale_vectors.update(status=ImageStatus.PENDING) > 0
    for records, vectors, errors in _encoded_batches(corpus, encoder):
        _store_vectors(records, vectors, errors, encoder.fingerprint)
        outcome.encoded += len(records) - len(errors)
        outcome.failed += len(errors)
        changed = True
        _renew_lease(corpus_id, token)
    corpus.refresh_from_db()
    if changed or corpus.index_stale or _index_missing(corpus):
        Corpus.objects.filter(pk=corpus_id).update(index_stale=False)
        outcome.index_version = update_index(corpus=corpus)
    _set_final_status(corpus_id)


def _encoded_batches(
    corpus: Corpus, encoder
) -> Iterator[tuple[list[ImageRecord], np.ndarray, dict[int, str]]]:
    """Yield (records, vectors, errors by record id), decoding the next batch while the encoder
    works on the current one. Vectors of failed records are zero rows that are not stored."""
    batch_size = max(1, encoder.batch_size)
    pending = (
        ImageRecord.objects.filter(corpus=corpus, status=ImageStatus.PENDING)
        .only("id", "file", "corpus_id")
        .order_by("id")
    )
    with ThreadPoolExecutor(max_workers=PREPROCESS_THREADS) as pool:
        last_id = 0
        upcoming = _submit_batch(pool, encoder, list(pending[:batch_size]))
        while upcoming:
            records = [record for record, _ in upcoming]
            last_id = records[-1].pk
            arrays, errors = _collect(upcoming)
            upcoming = _submit_batch(
                pool, encoder, list(pending.filter(pk__gt=last_id)[:batch_size])
            )
            vectors = np.zeros((len(records), encoder.dim), dtype=np.float32)
            ok = [i for i, record in enumerate(records) if record.pk not in errors]
            if ok:
                vectors[ok] = encoder.encode_batch(np.stack([arrays[i] for i in ok]))
            yield records, vectors, errors


def _submit_batch(pool: ThreadPoolExecutor, encoder, records: list[ImageRecord]):
    return [(record, pool.submit(_load_and_preprocess, encoder, record)) for record in records]


def _load_and_preprocess(encoder, record: ImageRecord) -> np.ndarray:
    # One decode per file, at the scale this encoder needs (docs/architecture.md).
    with record.file.open("rb") as handle:
        return encoder.preprocess(open_image(handle, min_side=encoder.decode_side))


def _collect(upcoming: list[tuple[ImageRecord, Future]]) -> tuple[list, dict[int, str]]:
    arrays: list = []
    errors: dict[int, str] = {}
    for record, future in upcoming:
        try:
            arrays.append(future.result())
        except Exception as exc:
            message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
            errors[record.pk] = f"Could not be encoded: {message}"[:2000]
            arrays.append(None)
    return arrays, errors


def _store_vectors(
    records: list[ImageRecord], vectors: np.ndarray, errors: dict[int, str], fingerprint: str
) -> None:
    for record, vector in zip(records, vectors, strict=True):
        if record.pk in errors:
            record.status, record.error, record.embedding = (
                ImageStatus.FAILED,
                errors[record.pk],
                None,
            )
        else:
            record.status, record.error = ImageStatus.ENCODED, ""
            record.embedding = np.ascontiguousarray(vector, dtype=np.float32).tobytes()
        record.encoder_fingerprint = "" if record.pk in errors else fingerprint
    with transaction.atomic():
        # An UPDATE by primary key: a record deleted meanwhile matches no row and stays deleted.
        ImageRecord.objects.bulk_update(
            records, ["status", "error", "embedding", "encoder_fingerprint"], batch_size=500
        )


def _set_final_status(corpus_id: int) -> None:
    corpus = Corpus.objects.get(pk=corpus_id)
    images = ImageRecord.objects.filter(corpus_id=corpus_id)
    if images.filter(status=ImageStatus.PENDING).exists() or corpus.index_stale:
        status, message = CorpusStatus.INDEXING, ""
    elif corpus.index_version:
        status, message = CorpusStatus.READY, ""
    elif images.filter(status=ImageStatus.FAILED).exists():
        status, message = CorpusStatus.FAILED, "None of the images could be encoded."
    else:
        status, message = CorpusStatus.EMPTY, ""
    Corpus.objects.filter(pk=corpus_id).update(status=status, status_message=message)


def _index_missing(corpus: Corpus) -> bool:
    has_vectors = corpus.images.filter(status=ImageStatus.ENCODED).exists()
    return has_vectors != bool(corpus.index_version)


def _has_work(corpus_id: int) -> bool:
    pending = ImageRecord.objects.filter(corpus_id=corpus_id, status=ImageStatus.PENDING)
    return pending.exists() or Corpus.objects.filter(pk=corpus_id, index_stale=True).exists()


def _acquire_lease(corpus_id: int) -> str | None:
    token, now = uuid.uuid4().hex, timezone.now()
    free = Q(indexing_lease_until__isnull=True) | Q(indexing_lease_until__lt=now)
    taken = Corpus.objects.filter(free, pk=corpus_id).update(
        indexing_lease_token=token, indexing_lease_until=now + LEASE
    )
    return token if taken else None


def _renew_lease(corpus_id: int, token: str) -> None:
    Corpus.objects.filter(pk=corpus_id, indexing_lease_token=token).update(
        indexing_lease_until=timezone.now() + LEASE
    )


def _release_lease(corpus_id: int, token: str) -> None:
    Corpus.objects.filter(pk=corpus_id, indexing_lease_token=token).update(
        indexing_lease_token="", indexing_lease_until=None
    )
