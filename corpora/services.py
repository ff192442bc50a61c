"""Writes to corpora: their life cycle and the ingestion of uploaded files.

Views, the API, management commands and tasks call these functions; they never touch models
directly for writes. Vectors and indices belong to the ``search`` app: when a corpus needs them,
``request_indexing`` sends ``corpora.signals.indexing_requested``, which search receives.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import IO, Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from corpora import preparation, thumbnails, trash
from corpora.encoder_options import encoder_names, is_known_encoder
from corpora.filenames import display_name
from corpora.metadata import (
    Annotation,
    clean_caption,
    clean_data,
    clean_tags,
    parse_annotation,
    tag_text,
)
from corpora.models import Corpus, CorpusStatus, ImageRecord, ImageStatus, Visibility
from corpora.signals import indexing_requested
from corpora.validation import read_limited
from crier_site.errors import Conflict, CrierError, InvalidInput
from crier_site.faults import fault_error

logger = logging.getLogger(__name__)

UNSET = object()


# --- corpus life cycle ---------------------------------------------------------------------------


def create_corpus(
    *,
    owner,
    name: str,
    description: str = "",
    visibility: str = Visibility.PRIVATE,
    expires_in_minutes: int | None = None,
    encoder: str | None = None,
) -> Corpus:
    corpus = Corpus(
        owner=owner,
        name=_clean_name(name),
        description=description.strip(),
        visibility=_clean_visibility(visibility),
        encoder=validate_encoder(encoder or settings.CRIER_ENCODER),
        expires_at=_expiry(expires_in_minutes),
    )
    _ensure_name_free(corpus)
    try:
        with transaction.atomic():
            corpus.save()
    except IntegrityError:
        raise Conflict(f"You already have a corpus named {corpus.name!r}.", field="name") from None
    return corpus


def update_corpus(
    *,
    corpus: Corpus,
    name: str | None = None,
    description: str | None = None,
    visibility: str | None = None,
    expires_in_minutes: int | object | None = UNSET,
    encoder: str | None = None,
) -> Corpus:
    """Change the editable fields given; ``expires_in_minutes=None`` makes a corpus permanent.

    Another ``encoder`` is a change of model without downtime: search encodes every image with
    it in the background while the current index keeps answering, swaps the new index in once
    all are done and drops the old vectors (docs/architecture.md)."""
    changed: list[str] = []
    new_encoder = encoder is not None and validate_encoder(encoder) != corpus.encoder
    if new_encoder:
        corpus.encoder = encoder
        corpus.status, corpus.status_message = CorpusStatus.INDEXING, ""
        changed += ["encoder", "status", "status_message"]
    if name is not None:
        corpus.name = _clean_name(name)
        _ensure_name_free(corpus)
        changed.append("name")
    if description is not None:
        corpus.description = description.strip()
        changed.append("description")
    if visibility is not None:
        corpus.visibility = _clean_visibility(visibility)
        changed.append("visibility")
    if expires_in_minutes is not UNSET:
        corpus.expires_at = _expiry(expires_in_minutes)  # type: ignore[arg-type]
        changed.append("expires_at")
    if changed:
        try:
            with transaction.atomic():
                corpus.save(update_fields=[*changed, "updated_at"])
                if new_encoder:
                    request_indexing(corpus_id=corpus.pk)
        except IntegrityError:
            raise Conflict(
                f"You already have a corpus named {corpus.name!r}.", field="name"
            ) from None
    return corpus


def delete_corpus(*, corpus: Corpus) -> None:
    """What "delete" does to a corpus: move it, with its images, to the owner's trash
    (corpora/trash.py), from which it can be restored for ``CRIER_TRASH_DAYS`` days."""
    trash.trash_corpus(corpus=corpus)


# --- ingestion -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DuplicateFile:
    filename: str
    existing_id: int


@dataclass(frozen=True)
class RejectedFile:
    filename: str
    error: str


@dataclass
class IngestReport:
    accepted: list[ImageRecord] = field(default_factory=list)
    duplicates: list[DuplicateFile] = field(default_factory=list)
    rejected: list[RejectedFile] = field(default_factory=list)
    # A fault of the server (full or read-only disk, database down) that stopped the storing:
    # every file not stored because of it is in ``rejected`` with its message.
    interrupted: CrierError | None = None

    def extend(self, other: IngestReport) -> None:
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.rejected += other.rejected
        self.interrupted = self.interrupted or other.interrupted


def ingest_files(
    *,
    corpus: Corpus,
    files: Iterable[tuple[str, IO[bytes]]],
    metadata: dict | None = None,
    annotations: Mapping[str, Any] | None = None,
    report_unmatched: bool = True,
    keep_paths: bool = True,
    enqueue: bool = True,
) -> IngestReport:
    """Validate and store each ``(filename, file)``; one bad file never stops the others.

    ``annotations`` maps a filename (as given, or its last part) to what the uploader says
    about it (``{"tags", "caption", "metadata"}``, checked by ``corpora.metadata``): a file
    with bad metadata is rejected alone, and names that match no file are reported as
    rejected too (unless ``report_unmatched=False``, for callers that ingest in chunks).
    EXIF facts (time, camera, position) are read from the bytes already being validated.

    Each accepted file is a pending record, committed at once; the corpus turns "indexing"
    with the first one. A fault of the server (a full or read-only disk, the database gone:
    ``crier_site.faults``) stops the storing: the report then lists every file not stored as
    rejected and carries the fault in ``interrupted``. Once the surrounding transaction
    commits, ONE encoding task is enqueued for the corpus (unless ``enqueue=False``, e.g. for
    a caller that runs the encoding inline). Should the request die before that, the pending
    records are found by the every-minute recovery (``search.encoding.recovery``), whatever the
    corpus's status says.
    """
    report = IngestReport()
    annotations = annotations or {}
    matched: set[str] = set()
    plan = preparation.plan_for(corpus.encoder)

    uploads = _uploads(files, metadata, annotations, matched, keep_paths=keep_paths)
    try:
        for upload, prepared in preparation.prepare_in_order(uploads, _data_of, plan):
            if report.interrupted is None:
                _ingest_one(corpus, upload, prepared, plan, report)
            else:
                report.rejected.append(RejectedFile(upload.filename, report.interrupted.message))
    finally:
        if report.accepted:
            _request_indexing_after_ingest(corpus, enqueue=enqueue)
    if report_unmatched:
        for name in sorted(set(annotations) - matched):
            report.rejected.append(RejectedFile(str(name), UNMATCHED_METADATA))
    return report


def nothing_stored_because(report: IngestReport) -> CrierError | None:
    """The server's fault that kept every file of an upload from being stored, if one did
    (answered as an error, 507 or 503, rather than as a report of rejections)."""
    if report.interrupted is None or report.accepted or report.duplicates:
        return None
    return report.interrupted


def _ingest_one(
    corpus: Corpus,
    upload: _Upload,
    prepared: preparation.PreparedUpload | Exception | None,
    plan: preparation.UploadPlan,
    report: IngestReport,
) -> None:
    if isinstance(prepared, CrierError):
        upload.error = prepared.message
    elif isinstance(prepared, OSError):
        upload.error = f"The file could not be read: {prepared}"
    elif isinstance(prepared, Exception):
        logger.error("Preparing %s failed", upload.filename, exc_info=prepared)
        upload.error = f"The file could not be processed ({type(prepared).__name__})."
    if upload.error is not None or not isinstance(prepared, preparation.PreparedUpload):
        report.rejected.append(RejectedFile(upload.filename, upload.error or ""))
        return
    try:
        # The same bytes in the corpus, live or in the trash (one row at most: the bytes are
        # unique per corpus), in one query: an upload makes no round trip more than before the
        # trash (docs/benchmarks.md, "Refactor check").
        same = ImageRecord.all_objects.filter(corpus=corpus, sha256=prepared.info.sha256).first()
        if same is not None and same.trashed_at is None:
            report.duplicates.append(DuplicateFile(upload.filename, same.pk))
            return
        if same is not None:
            # The same bytes again: the image comes out of the trash as it was (its vector,
            # tags and caption), rather than a second copy that would be encoded again.
            trash.restore_images(records=[same])
            same.trashed_at = None
            report.accepted.append(same)
            return
        record = _store(corpus, upload, prepared, plan)
    except Exception as exc:
        fault = fault_error(exc)
        if fault is None:  # not the server's state: this file alone could not be stored
            logger.exception("Storing %s failed", upload.filename)
            message = f"The file could not be stored ({type(exc).__name__}); try it again."
        else:
            logger.error("Storing %s failed, no more files stored: %s", upload.filename, exc)
            report.interrupted, message = fault, fault.message
        report.rejected.append(RejectedFile(upload.filename, message))
        return
    if isinstance(record, DuplicateFile):
        report.duplicates.append(record)
        return
    if corpus.status != CorpusStatus.INDEXING:  # the first one: from now on it has work
        Corpus.objects.filter(pk=corpus.pk).update(
            status=CorpusStatus.INDEXING, status_message="", updated_at=timezone.now()
        )
        corpus.status = CorpusStatus.INDEXING
    report.accepted.append(record)


def _request_indexing_after_ingest(corpus: Corpus, *, enqueue: bool) -> None:
    if not enqueue:
        return
    try:
        request_indexing(corpus_id=corpus.pk)
    except Exception:
        # E.g. the broker is down: the records are committed and pending, and the every-minute
        # recovery requests their indexing as soon as it can.
        logger.exception("Could not request indexing of corpus %s", corpus.pk)


UNMATCHED_METADATA = "Metadata was given for this name, but no file of that name was sent."


def _file_annotation(raw: Any) -> Annotation:
    try:
        return parse_annotation(raw)
    except InvalidInput as exc:
        raise InvalidInput(f"Bad metadata: {exc.message}") from None


def update_image(
    *,
    record: ImageRecord,
    tags: list[str] | object = UNSET,
    caption: str | object = UNSET,
    metadata: dict | object = UNSET,
) -> ImageRecord:
    """Change what the owner says about an image; only the arguments given change."""
    changed: list[str] = []
    if tags is not UNSET:
        record.tags = clean_tags(tags)
        record.tag_text = tag_text(record.tags)
        changed += ["tags", "tag_text"]
    if caption is not UNSET:
        record.caption = clean_caption(caption)
        changed.append("caption")
    if metadata is not UNSET:
        record.metadata = clean_data(metadata)
        changed.append("metadata")
    if changed:
        record.save(update_fields=changed)
    return record


@dataclass(frozen=True)
class ImageDeletion:
    deleted: int
    not_found: list[int]  # asked-for ids that are not images of the corpus (any more)


def delete_images_by_id(*, corpus: Corpus, image_ids: Iterable[int]) -> ImageDeletion:
    """Delete the corpus's images among ``image_ids`` and say which ids were not there."""
    wanted = {int(pk) for pk in image_ids}
    present = set(corpus.images.filter(pk__in=wanted).values_list("pk", flat=True))
    deleted = delete_images(corpus=corpus, image_ids=sorted(present))
    return ImageDeletion(deleted=deleted, not_found=sorted(wanted - present))


def delete_images(*, corpus: Corpus, image_ids: Iterable[int]) -> int:
    """What "delete" does to images: move them to the owner's trash (corpora/trash.py); the
    index is updated without them in the background, and search never shows them meanwhile."""
    moved = trash.trash_images(corpus=corpus, image_ids=image_ids)
    if moved:
        corpus.status = CorpusStatus.INDEXING
    return moved


def change_encoder(*, corpus: Corpus, encoder: str) -> Corpus:
    """Switch the corpus to another encoder (``update_corpus``'s ``encoder``): every image is
    encoded again in the background while the old index keeps answering every search; the new
    index replaces it once all are encoded."""
    return update_corpus(corpus=corpus, encoder=encoder)


def reindex_corpus(*, corpus: Corpus) -> None:
    """Rebuild the corpus's index from its stored vectors (e.g. after its directory was lost)."""
    Corpus.objects.filter(pk=corpus.pk).update(status=CorpusStatus.INDEXING, status_message="")
    request_indexing(corpus_id=corpus.pk, stale=True)


def retry_indexing(*, corpus: Corpus) -> Corpus:
    """The owner's "retry": index the corpus again from scratch after a failure — its images
    that could not be encoded are tried again too (pending again, search encodes them anew),
    and the index is rebuilt."""
    with transaction.atomic():
        corpus.images.filter(status=ImageStatus.FAILED).update(
            status=ImageStatus.PENDING, error=""
        )
        reindex_corpus(corpus=corpus)
    corpus.refresh_from_db()
    return corpus


def request_indexing(*, corpus_id: int, stale: bool = False) -> None:
    """Ask for the corpus's pending images to be encoded and its index brought up to date, in
    the background once the current transaction commits; ``stale``: the index no longer
    matches the corpus's images (some were deleted) or must be rebuilt."""
    indexing_requested.send(sender=Corpus, corpus_id=corpus_id, synchronous=False, stale=stale)


def index_now(*, corpus_id: int) -> str:
    """Encode and index the corpus in this process (commands that must finish the job before
    they return); a summary of what was done."""
    answers = indexing_requested.send(sender=Corpus, corpus_id=corpus_id, synchronous=True)
    summaries = [answer for _, answer in answers if answer]
    return "; ".join(summaries) or f"corpus {corpus_id}: nothing is connected to index it"


@dataclass
class _Upload:
    given_name: str
    filename: str
    metadata: dict
    annotation: Annotation = field(default_factory=Annotation)
    data: bytes | None = None
    error: str | None = None


def _uploads(
    files: Iterable[tuple[str, IO[bytes]]],
    metadata: dict | None,
    annotations: Mapping[str, Any],
    matched: set[str],
    *,
    keep_paths: bool,
) -> Iterator[_Upload]:
    """Each file's bytes with what the uploader says about it (or why it is refused already);
    the names of ``annotations`` used are added to ``matched``."""
    for given_name, handle in files:
        upload = _Upload(given_name, display_name(given_name), dict(metadata or {}))
        nested = "/" in given_name.replace("\\", "/")
        if keep_paths and upload.filename != given_name and nested:
            upload.metadata["path"] = given_name  # where it was in the uploaded folder or archive
        key = next((n for n in (given_name, upload.filename) if n in annotations), None)
        try:
            if key is not None:
                matched.add(key)
                upload.annotation = _file_annotation(annotations[key])
            upload.data = read_limited(handle, declared_size=getattr(handle, "size", None))
        except CrierError as exc:
            upload.error = exc.message
        except OSError as exc:
            upload.error = f"The file could not be read: {exc}"
        yield upload


def _data_of(upload: _Upload) -> bytes | None:
    return None if upload.error is not None else upload.data


def _store(
    corpus: Corpus,
    upload: _Upload,
    prepared: preparation.PreparedUpload,
    plan: preparation.UploadPlan,
) -> ImageRecord | DuplicateFile:
    info, annotation = prepared.info, upload.annotation
    tags = annotation.tags or []
    record = ImageRecord(
        corpus=corpus,
        original_filename=upload.filename,
        sha256=info.sha256,
        width=info.width,
        height=info.height,
        format=info.format,
        byte_size=info.byte_size,
        status=ImageStatus.PENDING,
        metadata={**upload.metadata, **(annotation.data or {})},
        tags=tags,
        tag_text=tag_text(tags),
        caption=annotation.caption or "",
        taken_at=info.exif.taken_at,
        camera_make=info.exif.camera_make,
        camera_model=info.exif.camera_model,
        latitude=info.exif.latitude,
        longitude=info.exif.longitude,
    )
    # Each write goes to a temporary name first (corpora.storage), so a failed one leaves
    # nothing; the files written before a failure are removed here. Should even that fail (a
    # disk gone read-only), no row refers to them and the orphan sweep removes them.
    try:
        # The stored name's extension follows the detected format, never the client's name.
        record.file.save(f"image{info.extension}", ContentFile(upload.data), save=False)
        # Both from the picture the check decoded: no re-decode, here or in the encoding job.
        thumbnails.attach(record, prepared.thumbnail)
        if plan.companion is not None and prepared.derived is not None:
            plan.companion.save(record.file.storage, record.file.name, prepared.derived)
        with transaction.atomic():
            record.save()
    except IntegrityError:
        # Another upload stored the same bytes between our check and our insert.
        _remove_files(record, plan)
        existing = corpus.images.filter(sha256=info.sha256).values_list("pk", flat=True).first()
        return DuplicateFile(upload.filename, existing or 0)
    except BaseException:
        _remove_files(record, plan)
        raise
    return record


def _remove_files(record: ImageRecord, plan: preparation.UploadPlan) -> None:
    """Remove what was written for a record that is not stored (best effort: the orphan sweep
    removes what cannot be removed now)."""
    storage = record.file.storage
    for field_file in (record.file, record.thumbnail):
        if not field_file:
            continue
        try:
            storage.delete(field_file.name)
            if field_file is record.file and plan.companion is not None:
                plan.companion.discard(storage, field_file.name)
        except OSError as exc:
            logger.warning("%s left for the orphan sweep: %s", field_file.name, exc)


# --- validation helpers --------------------------------------------------------------------------


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise InvalidInput("A corpus needs a name.", field="name")
    if len(name) > Corpus._meta.get_field("name").max_length:
        raise InvalidInput("The name is too long (100 characters at most).", field="name")
    return name


def _ensure_name_free(corpus: Corpus) -> None:
    # A corpus in the trash leaves its name free (restoring it renames it on a clash).
    clash = Corpus.objects.live().filter(owner=corpus.owner, name=corpus.name).exclude(pk=corpus.pk)
    if clash.exists():
        raise Conflict(f"You already have a corpus named {corpus.name!r}.", field="name")


def _clean_visibility(visibility: str) -> str:
    if visibility not in Visibility.values:
        raise InvalidInput(
            f"Visibility must be one of {', '.join(Visibility.values)}.", field="visibility"
        )
    return visibility


def validate_encoder(name: str) -> str:
    """``name`` if it names an encoder (registered, a TF Hub URL or a SavedModel directory)."""
    if not is_known_encoder(name):
        raise InvalidInput(
            f"Unknown encoder {name!r}; known: {', '.join(encoder_names())}.", field="encoder"
        )
    return name


def _expiry(minutes: int | None) -> timezone.datetime | None:
    if minutes is None:
        return None
    limit = settings.CRIER_TEMP_CORPUS_MAX_MINUTES
    if not isinstance(minutes, int) or isinstance(minutes, bool) or not 1 <= minutes <= limit:
        raise InvalidInput(
            f"expires_in_minutes must be a whole number from 1 to {limit}.",
            field="expires_in_minutes",
        )
    return timezone.now() + timedelta(minutes=minutes)
