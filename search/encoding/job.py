"""The encoding job of a corpus: pending images → their ImageVector rows → a fresh index.

An image is *pending* for the corpus's encoder while it has no ``search.models.ImageVector`` of
that encoder made with its current fingerprint (nor a failed one). Run by the
``search.tasks.encode_corpus`` task, which ``search.signals`` enqueues when ``corpora`` signals
that a corpus needs indexing. Safe to run again at any time: each batch of vectors is committed
as it is computed, so a crashed run resumes where it stopped, and images that are already
encoded are never encoded again. A lease on the corpus's index row (``search.encoding.leases``,
renewed by a heartbeat) makes sure only one worker encodes and builds a corpus at a time; a
second task for the same corpus returns at once (the first one loops until nothing is left to
do). Vectors are stored only while the lease is still ours, so even a worker that stalled past
its lease never stores a batch twice.

A change of encoder (the corpus's encoder differs from the one its index serves) is encoded the
same way, in the background, while the old index keeps answering; once every image has a row of
the new encoder, its index is built and swapped in, and the old encoder's vectors are dropped
(:func:`_swap_encoder`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
from django.conf import settings
from django.core.files.storage import Storage
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from PIL import Image

from corpora.models import Corpus, CorpusStatus, ImageRecord, ImageStatus
from corpora.services import request_indexing
from search import encoders
from search.copies import store as copy_store
from search.encoders.labels import label_text
from search.encoding import model_inputs, retries, shutdown
from search.encoding.leases import Lease, LeaseLost
from search.encoding.preprocessing import open_image
from search.indices.build import rebuild_index, update_index
from search.models import CorpusIndex, ImageVector, VectorKind, VectorStatus
from search.selectors import corpus_index, encoded_vectors

logger = logging.getLogger(__name__)

PREPROCESS_THREADS = 2
# An upload is taken to go on while its corpus got an image this recently (a request's files
# are stored one by one, tens of ms apart; the next request of a client follows within ~0.2 s).
UPLOAD_GAP_S = 0.5
UPLOAD_POLL_S = 0.05


@dataclass
class EncodeOutcome:
    corpus_id: int
    encoded: int = 0
    failed: int = 0
    index_version: str = ""
    busy: bool = False
    handed_over: bool = False
    retry_in: timedelta | None = None  # failed for a passing reason: retried after this
    described: int = 0  # images given copy features

    @property
    def summary(self) -> str:
        if self.busy:
            return f"corpus {self.corpus_id}: another worker is indexing it"
        if self.retry_in is not None:
            return f"corpus {self.corpus_id}: failed, retried in {self.retry_in}"
        done = f"corpus {self.corpus_id}: {self.encoded} encoded, {self.failed} failed"
        if self.handed_over:
            return f"{done}, the rest handed to a new task"
        return f"{done}, index {self.index_version or 'none'}"


def encode_corpus(*, corpus_id: int, attempt: int = 0) -> EncodeOutcome:
    """Encode every pending record of the corpus, then rebuild its index if anything changed.

    Encoding stops between batches once half the task timeout is spent or the worker is told
    to stop; the rest goes to a fresh task (enqueued after the lease is released), so a task
    always ends well within its timeout and a stopping worker leaves no task half done.

    A failure marks the corpus "failed" with its reason (``search.encoding.retries``): one that
    may pass (I/O, the database) is retried later, ``attempt`` counting the retries so far,
    and the outcome says when; any other is raised.
    """
    outcome = EncodeOutcome(corpus_id=corpus_id)
    deadline = time.monotonic() + settings.CRIER_TASK_TIMEOUT / 2
    while True:
        if shutdown.stop_requested():
            return _hand_over(outcome)
        try:
            lease = Lease.acquire(corpus_id)
        except Corpus.DoesNotExist:
            return outcome
        if lease is None:
            outcome.busy = outcome.encoded == 0 and outcome.failed == 0
            return outcome
        try:
            with lease.heartbeat():
                finished = _run_once(corpus_id, lease, outcome, deadline)
        except Corpus.DoesNotExist:
            return outcome  # deleted while we worked: nothing left to do
        except LeaseLost:
            # We stalled past the lease and another worker took over: it finishes the corpus.
            logger.warning("corpus %s: lease lost, leaving the corpus to its new holder", corpus_id)
            return outcome
        except Exception as exc:
            logger.exception("Indexing corpus %s failed", corpus_id)
            CorpusIndex.objects.filter(pk=corpus_id).update(
                last_error=f"{type(exc).__name__}: {exc}"[:2000]
            )
            outcome.retry_in = retries.after_failure(corpus_id, exc, attempt=attempt)
            if outcome.retry_in is None:
                raise
            return outcome
        finally:
            lease.release()
        if not finished:
            return _hand_over(outcome)
        # Work that arrived while we held the lease was refused by its own task; pick it up.
        if not _has_work(corpus_id):
            return outcome


def _hand_over(outcome: EncodeOutcome) -> EncodeOutcome:
    request_indexing(corpus_id=outcome.corpus_id)
    outcome.handed_over = True
    return outcome


def _run_once(corpus_id: int, lease: Lease, outcome: EncodeOutcome, deadline: float) -> bool:
    """One pass: encode what is pending, rebuild the index; ``False`` if it stopped early."""
    corpus = Corpus.objects.get(pk=corpus_id)
    encoder = encoders.get_encoder(corpus.encoder)
    state = corpus_index(corpus)
    switching = state.encoder != corpus.encoder
    changed = False
    for records, vectors, labels, errors, described in _encoded_batches(corpus, encoder):
        _store_vectors(corpus, records, vectors, labels, errors, encoder, lease, live=not switching)
        if described:  # copy search's data, from the same decodes (docs/copies.md)
            copy_store.store_described(described, encoder)
            outcome.described += len(described)
        outcome.encoded += len(records) - len(errors)
        outcome.failed += len(errors)
        changed = True
        if shutdown.stop_requested() or time.monotonic() > deadline:
            return False
    lease.check()
    state.refresh_from_db()
    if switching and not pending_records(corpus, corpus.encoder, encoder.fingerprint).exists():
        outcome.index_version = _swap_encoder(corpus, lease)
    elif (changed and not switching) or state.stale or _index_missing(corpus, state):
        CorpusIndex.objects.filter(pk=corpus_id).update(stale=False)
        outcome.index_version = update_index(corpus=corpus)
    if not switching:
        # An encoder change given up (the corpus went back to its serving encoder) leaves
        # vectors of the other one behind: they would never be used.
        ImageVector.objects.filter(corpus=corpus).exclude(encoder=corpus.encoder).delete()
    # Searchable now. Copy search's data of images encoded before (or by another version of
    # it) follows; new images got theirs with their vectors.
    if settings.CRIER_COPY_SEARCH:
        outcome.described += copy_store.describe_missing(
            corpus=corpus,
            encoder=encoder,
            stop=lambda: shutdown.stop_requested() or time.monotonic() > deadline,
        )
        if copy_store.incomplete(corpus):
            return False
    _set_final_status(corpus_id)
    return True


def pending_records(corpus: Corpus, encoder: str, fingerprint: str) -> QuerySet[ImageRecord]:
    """The corpus's images that ``encoder`` (at version ``fingerprint``) has yet to encode: no
    vector of it, or one of another version. One that failed is not tried again unless its
    owner asked to (``corpora.services.retry_indexing`` made the image pending again)."""
    rows = ImageVector.objects.filter(image=OuterRef("pk"), encoder=encoder, kind=VectorKind.IMAGE)
    encoded = rows.filter(status=VectorStatus.ENCODED, fingerprint=fingerprint)
    failed = rows.filter(status=VectorStatus.FAILED)
    return (
        ImageRecord.objects.filter(corpus=corpus)
        .exclude(Exists(encoded))
        .exclude(Q(Exists(failed)) & ~Q(status=ImageStatus.PENDING))
    )


def _swap_encoder(corpus: Corpus, lease: Lease) -> str:
    """Every image has a vector of the corpus's new encoder: build its index and swap it in
    (searches keep the old one until this very moment), give each image the status of its new
    vector, and drop the old encoder's vectors."""
    version = rebuild_index(corpus=corpus, encoder=corpus.encoder)
    vectors = ImageVector.objects.filter(
        corpus=corpus, encoder=corpus.encoder, kind=VectorKind.IMAGE
    )
    with transaction.atomic():
        lease.check()
        encoded = vectors.filter(status=VectorStatus.ENCODED).values("image_id")
        ImageRecord.objects.filter(corpus=corpus, pk__in=encoded).update(
            status=ImageStatus.ENCODED, error=""
        )
        for image_id, error in vectors.filter(status=VectorStatus.FAILED).values_list(
            "image_id", "error"
        ):
            ImageRecord.objects.filter(pk=image_id).update(status=ImageStatus.FAILED, error=error)
        ImageVector.objects.filter(corpus=corpus).exclude(encoder=corpus.encoder).delete()
        CorpusIndex.objects.filter(pk=corpus.pk).update(stale=False)
    logger.info("corpus %s: now searched with %s (index %s)", corpus.pk, corpus.encoder, version)
    return version


CopyData = list[tuple[copy_store.Described, list[np.ndarray]]]


def _encoded_batches(
    corpus: Corpus, encoder
) -> Iterator[tuple[list[ImageRecord], np.ndarray, list[list[dict]], dict[int, str], CopyData]]:
    """Yield (records, vectors, top labels, errors by record id, copy data), decoding the next
    batch while the encoder works on the current one. Vectors of failed records are zero rows
    that are not stored; labels come from the same forward pass (empty for encoders without a
    classifier); copy data (with copy search on, for images without any) is found on the
    same decoded pictures, in the decoding threads."""
    from search.encoders.labels import TOP_LABELS, describe_labels

    batch_size = max(1, encoder.batch_size)
    pending = (
        pending_records(corpus, corpus.encoder, encoder.fingerprint)
        .only("id", "file", "corpus_id")
        .order_by("id")
    )
    # While uploads keep arriving, their images are encoded as they come and the index is built
    # once they pause (or every CRIER_INDEX_BUILD_INTERVAL s), not after each few images.
    build_by = time.monotonic() + settings.CRIER_INDEX_BUILD_INTERVAL
    with ThreadPoolExecutor(max_workers=PREPROCESS_THREADS) as pool:
        last_id = 0
        upcoming = _submit_batch(pool, encoder, list(pending[:batch_size]))
        while upcoming:
            records = [record for record, _ in upcoming]
            last_id = records[-1].pk
            prepared, errors = _collect(upcoming)
            arrays = [None if p is None else p.pixels for p in prepared]
            described = [p.copy for p in prepared if p is not None and p.copy is not None]
            upcoming = _submit_batch(
                pool, encoder, list(pending.filter(pk__gt=last_id)[:batch_size])
            )
            vectors = np.zeros((len(records), encoder.dim), dtype=np.float32)
            labels: list[list[dict]] = [[] for _ in records]
            ok = [i for i, record in enumerate(records) if record.pk not in errors]
            if ok:
                encoded, predicted = encoder.encode_and_classify_batch(
                    np.stack([arrays[i] for i in ok]), TOP_LABELS
                )
                vectors[ok] = encoded
                for i, entries in zip(ok, describe_labels(predicted, len(ok)), strict=True):
                    labels[i] = entries
            yield records, vectors, labels, errors, described
            if not upcoming:
                arrived = _await_uploads(corpus, pending, last_id, batch_size, build_by)
                upcoming = _submit_batch(pool, encoder, arrived)


def _await_uploads(
    corpus: Corpus, pending, last_id: int, batch_size: int, build_by: float
) -> list[ImageRecord]:
    """The next pending records after ``last_id``; while none are there but the corpus got an
    image less than ``UPLOAD_GAP_S`` ago (an upload is still coming in), wait for them, until
    ``build_by`` at the latest."""
    newest = ImageRecord.objects.filter(corpus=corpus).order_by("-pk").values_list("created_at")
    while True:
        records = list(pending.filter(pk__gt=last_id)[:batch_size])
        if records or time.monotonic() >= build_by or shutdown.stop_requested():
            return records
        created = newest.first()
        if created is None or (timezone.now() - created[0]).total_seconds() > UPLOAD_GAP_S:
            return records
        time.sleep(UPLOAD_POLL_S)


def _submit_batch(pool: ThreadPoolExecutor, encoder, records: list[ImageRecord]):
    undescribed = set()
    if settings.CRIER_COPY_SEARCH and records:
        undescribed = copy_store.undescribed(record.pk for record in records)
    return [
        (record, pool.submit(_load_and_preprocess, encoder, record, record.pk in undescribed))
        for record in records
    ]


@dataclass(frozen=True)
class Prepared:
    """One image's encoder input, and its copy data when asked for (None: not asked, or the
    model input the upload check left has no copy picture: ``describe_missing`` decodes it)."""

    pixels: np.ndarray
    copy: tuple[copy_store.Described, list[np.ndarray]] | None = None


def _load_and_preprocess(encoder, record: ImageRecord, describe: bool = False) -> Prepared:
    # One decode per file (docs/architecture.md): the upload check's, when it left this
    # encoder's model input (and copy search's picture) beside the file; else the original's,
    # at this encoder's scale, for both.
    stored = stored_input(encoder, record.file.storage, record.file.name)
    if stored is not None:
        pixels, copy_picture = encoder.input_from_pixels(stored.pixels), stored.copy_picture
        if not describe or copy_picture is None:
            return Prepared(pixels)
        return Prepared(pixels, _describe(record, Image.fromarray(copy_picture), encoder))
    with record.file.open("rb") as handle:
        picture = open_image(handle, min_side=encoder.decode_side)
    pixels = encoder.preprocess(picture)
    if not describe:
        return Prepared(pixels)
    return Prepared(pixels, _describe(record, copy_store.copy_picture(picture), encoder))


def _describe(record: ImageRecord, picture: Image.Image, encoder):
    try:
        return copy_store.describe_picture(record.pk, record.corpus_id, picture, encoder)
    except Exception as exc:  # the image stays searchable, as "similar" only
        logger.warning("image %s: no copy features (%s)", record.pk, exc)
        return copy_store.undescribable(record.pk, record.corpus_id), []


def stored_model_input(encoder, storage: Storage, name: str) -> np.ndarray | None:
    """The model input the upload check left beside the stored file ``name`` for ``encoder``
    (``search.encoding.model_inputs``), or None: the caller decodes the original."""
    stored = stored_input(encoder, storage, name)
    return None if stored is None else stored.pixels


def stored_input(encoder, storage: Storage, name: str) -> model_inputs.StoredInput | None:
    """``stored_model_input`` with the copy picture written beside it."""
    if not getattr(encoder, "takes_model_pixels", False):
        return None
    size = encoder.input_size
    return model_inputs.load(storage, name, fingerprint=encoder.fingerprint, shape=(size, size, 3))


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
    corpus: Corpus,
    records: list[ImageRecord],
    vectors: np.ndarray,
    labels: list[list[dict]],
    errors: dict[int, str],
    encoder,
    lease: Lease,
    *,
    live: bool,
) -> None:
    """Store one batch's vectors (or errors) as the images' rows of the corpus's encoder; when
    that encoder is the one searched (``live``), the images' status follows."""
    rows = [
        ImageVector(
            image_id=record.pk,
            corpus_id=corpus.pk,
            encoder=corpus.encoder,
            kind=VectorKind.IMAGE,
            fingerprint=encoder.fingerprint,
            vector=None
            if record.pk in errors
            else np.ascontiguousarray(vector, dtype=np.float32).tobytes(),
            status=VectorStatus.FAILED if record.pk in errors else VectorStatus.ENCODED,
            error=errors.get(record.pk, ""),
            labels=predicted,
            label_text=label_text(predicted),
        )
        for record, vector, predicted in zip(records, vectors, labels, strict=True)
    ]
    try:
        with transaction.atomic():
            lease.check()  # holds the index row until commit: no other holder stores meanwhile
            # Deletions lock the corpus row first (corpora.services.delete_images): waiting for
            # it here, the images still there stay there until this commits. FOR NO KEY UPDATE,
            # as their UPDATE of the row takes: it waits for them, but not for an upload's
            # INSERT of an image (its foreign key takes FOR KEY SHARE on the row, which FOR
            # UPDATE would block for the whole batch: docs/benchmarks.md, "Refactor check").
            locked = Corpus.objects.select_for_update(no_key=True).filter(pk=corpus.pk)
            list(locked.values_list("pk"))
            # Only images still there and still pending: one deleted, or stored meanwhile, is
            # left alone.
            pending = pending_records(corpus, corpus.encoder, encoder.fingerprint)
            alive = set(pending.filter(pk__in=[r.pk for r in records]).values_list("pk", flat=True))
            ImageVector.objects.bulk_create(
                [row for row in rows if row.image_id in alive],
                update_conflicts=True,
                unique_fields=["image", "encoder", "kind"],
                update_fields=[
                    "fingerprint",
                    "vector",
                    "status",
                    "error",
                    "labels",
                    "label_text",
                    "updated_at",
                ],
                batch_size=500,
            )
            if live:
                ok = [pk for pk in alive if pk not in errors]
                ImageRecord.objects.filter(pk__in=ok).update(status=ImageStatus.ENCODED, error="")
                for pk, error in errors.items():
                    if pk in alive:
                        ImageRecord.objects.filter(pk=pk).update(
                            status=ImageStatus.FAILED, error=error
                        )
    except IntegrityError:  # an image deleted meanwhile: the next pass stores the others
        logger.warning("corpus %s: images deleted while their vectors were stored", corpus.pk)
    # Used, or stale (made for another encoder version): not needed now that the vectors are
    # stored. (Were they rolled back, the job would simply decode the originals again.)
    for record in records:
        model_inputs.delete(record.file.storage, record.file.name)


def _set_final_status(corpus_id: int) -> None:
    state = _index_state(corpus_id)
    if state is None:
        raise Corpus.DoesNotExist(f"corpus {corpus_id} was deleted")
    images = ImageRecord.objects.filter(corpus_id=corpus_id)
    if _has_work(corpus_id, state):
        status, message = CorpusStatus.INDEXING, ""
    elif state.version:
        status, message = CorpusStatus.READY, ""
    elif images.filter(status=ImageStatus.FAILED).exists():
        status, message = CorpusStatus.FAILED, "None of the images could be encoded."
    else:
        status, message = CorpusStatus.EMPTY, ""
    Corpus.objects.filter(pk=corpus_id).update(status=status, status_message=message)


def _index_missing(corpus: Corpus, state: CorpusIndex) -> bool:
    has_vectors = encoded_vectors(corpus=corpus, encoder=state.encoder).exists()
    return has_vectors != bool(state.version)


def _index_state(corpus_id: int) -> CorpusIndex | None:
    """The corpus's index row with the corpus, in one query (the job's lease made the row);
    None if the corpus is gone."""
    state = CorpusIndex.objects.select_related("corpus").filter(corpus_id=corpus_id).first()
    if state is None and Corpus.objects.filter(pk=corpus_id).exists():
        corpus_index(corpus_id)  # made on first use
        state = CorpusIndex.objects.select_related("corpus").get(pk=corpus_id)
    return state


def _has_work(corpus_id: int, state: CorpusIndex | None = None) -> bool:
    state = state or _index_state(corpus_id)
    if state is None:
        return False
    corpus = state.corpus
    if state.stale or state.encoder != corpus.encoder:
        return True
    fingerprint = encoders.get_encoder(corpus.encoder).fingerprint
    return pending_records(corpus, corpus.encoder, fingerprint).exists()
