"""A corpus's ScaNN index on disk: built from stored vectors, swapped in atomically.

Layout: ``<CRIER_INDEX_DIR>/<corpus id>/<version>/`` (ScaNN assets, record_ids.npy, meta.json).
A build writes ``.tmp-<uuid>/`` beside the live version, renames it to a new version, records the
version on the corpus's ``search.models.CorpusIndex`` with a conditional UPDATE, then removes
the older versions that no search can still be opening (``SUPERSEDED_GRACE_SECONDS`` after
they were replaced). See docs/indexing.md.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
import uuid
from collections import Counter
from pathlib import Path

import numpy as np
from django.conf import settings
from django.utils import timezone

from corpora.models import Corpus
from search.indices import scann_index
from search.models import CorpusIndex
from search.selectors import as_vector, corpus_index, encoded_vectors

logger = logging.getLogger(__name__)

TMP_PREFIX = ".tmp-"
# Directories younger than this are left alone by the sweep: a build may be writing them.
SWEEP_GRACE_SECONDS = 10 * 60
# A replaced version stays this long, so that searches that read it as live can still open it.
SUPERSEDED_GRACE_SECONDS = 30
READ_CHUNK = 2_000
# An index updated without a rebuild is rebuilt from scratch once the records added or removed
# since its last full build exceed this share of it: the delta is scored exactly, so it must
# stay small, and removed rows still take space in the searcher.
INCREMENTAL_SHARE = 0.2


def index_root(corpus_id: int) -> Path:
    return Path(settings.CRIER_INDEX_DIR) / str(corpus_id)


def new_version() -> str:
    """Sortable by creation time (microseconds), unique thanks to the random suffix; ≤ 40 chars."""
    return f"v{time.time_ns() // 1_000:016d}-{uuid.uuid4().hex[:8]}"


def current_fingerprint(corpus: Corpus, encoder: str | None = None) -> str:
    """The fingerprint whose vectors make up the index: the most common one among the stored
    vectors of ``encoder`` (default: the serving one).

    Vectors from different encoder versions are not comparable, so an index holds one
    fingerprint only. After an encoder version change the majority flips once most images are
    encoded again; until then the old majority keeps serving. Ties go to the fingerprint of the
    most recently added image.
    """
    rows = (
        encoded_vectors(corpus=corpus, encoder=encoder)
        .order_by("-image_id")
        .values_list("fingerprint", flat=True)
    )
    counts = Counter(rows.iterator(chunk_size=10_000))
    if not counts:
        return ""
    # Counter keeps first-seen order, i.e. newest first, and max() keeps the first maximum.
    return max(counts, key=counts.__getitem__)


def read_vectors(
    corpus: Corpus, *, fingerprint: str | None = None, encoder: str | None = None
) -> tuple[np.ndarray, np.ndarray, str]:
    """(record ids int64 (n,), vectors float32 (n, dim), fingerprint) of the stored vectors of
    ``encoder`` (default: the serving one).

    Only vectors of ``fingerprint`` (default: :func:`current_fingerprint`) are read. Vectors
    of the wrong size are skipped with a warning.
    """
    if fingerprint is None:
        fingerprint = current_fingerprint(corpus, encoder)
    qs = encoded_vectors(corpus=corpus, encoder=encoder, fingerprint=fingerprint)
    n = qs.count()
    ids = np.empty(n, dtype=np.int64)
    vectors: np.ndarray | None = None
    i = 0
    rows = qs.order_by("image_id").values_list("image_id", "vector")
    for record_id, blob in rows.iterator(chunk_size=READ_CHUNK):
        if i == n:  # records added since count(): they belong to the next build
            break
        vector = as_vector(blob)
        if vectors is None:
            vectors = np.empty((n, vector.size), dtype=np.float32)
        if vector.size != vectors.shape[1] or vector.size == 0:
            logger.warning("record %s: embedding of %s floats skipped", record_id, vector.size)
            continue
        ids[i] = record_id
        vectors[i] = vector
        i += 1
    if vectors is None:
        return ids[:0], np.empty((0, 0), dtype=np.float32), fingerprint
    return ids[:i], vectors[:i], fingerprint


def _remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def version_time(name: str) -> float | None:
    """When the version ``name`` (see :func:`new_version`) was made, in seconds since the epoch."""
    digits = name[1:17]
    if not (name.startswith("v") and len(name) > 17 and name[17] == "-" and digits.isdigit()):
        return None
    return int(digits) / 1_000_000


def _superseded_recently(root: Path, version: str, live: str) -> bool:
    """Whether ``version`` stopped being live less than ``SUPERSEDED_GRACE_SECONDS`` ago.

    A search reads the corpus's live version first and opens its directory a moment later (or,
    loading a large index, over seconds): the directory must still be there. A version older
    than the live one was replaced when the next newer version was made.
    """
    if version_time(version) is None or not version < live:
        return False
    newer = [c.name for c in root.iterdir() if version < c.name <= live and version_time(c.name)]
    replaced_at = version_time(min(newer, default=live))
    return replaced_at is not None and time.time() - replaced_at < SUPERSEDED_GRACE_SECONDS


def _remove_others(root: Path, keep: str) -> None:
    """After a swap: remove the older versions no search can still be opening, and tmp dirs
    too old to be a running build's. Newer versions belong to a concurrent build (or the sweep).
    """
    for child in root.iterdir():
        if child.name == keep or not child.is_dir():
            continue
        if child.name.startswith(TMP_PREFIX):
            if _older_than(child, SWEEP_GRACE_SECONDS):
                _remove(child)
        elif child.name < keep and not _superseded_recently(root, child.name, keep):
            _remove(child)


def update_index(*, corpus: Corpus) -> str:
    """Bring the corpus's index up to date with its stored vectors; return the live version.

    A large (tree + AH) index that only gained or lost a small share of its records since its
    last full build is updated without retraining: removed records are unmapped (the search
    drops them) and added ones go into the index's *delta*, a small segment scored exactly
    beside the ScaNN searcher. That makes one new image searchable in seconds at 100k vectors
    instead of a minute or more. Anything else is a full :func:`rebuild_index`.
    """
    state = corpus_index(corpus)  # read once: the live version and the serving encoder
    live = _load_live(corpus, state.version)
    if live is None:
        return rebuild_index(corpus=corpus)
    encoder = state.encoder or corpus.encoder
    fingerprint = current_fingerprint(corpus, encoder)
    meta = live.meta
    if meta.get("encoder_fingerprint") != fingerprint:
        # Re-encoded with another model: the same records, all of their vectors new.
        return rebuild_index(corpus=corpus)
    stored = _stored_ids(corpus, fingerprint, encoder)
    indexed = np.concatenate([live.record_ids[live.record_ids >= 0], live.delta_ids])
    added = np.setdiff1d(stored, indexed, assume_unique=True)
    removed = np.setdiff1d(indexed, stored, assume_unique=True)
    if len(added) == 0 and len(removed) == 0:
        return state.version
    changes = int(meta.get("changes_since_build", 0)) + len(added) + len(removed)
    if (
        meta.get("kind") != scann_index.TREE_AH
        or changes > INCREMENTAL_SHARE * int(meta.get("built_n", meta["n"]))
        or len(stored) == 0
    ):
        return rebuild_index(corpus=corpus)

    started = time.perf_counter()
    record_ids = np.where(np.isin(live.record_ids, removed), -1, live.record_ids)
    keep = ~np.isin(live.delta_ids, removed)
    delta_ids = live.delta_ids[keep]
    delta_vectors = (
        live.delta_vectors[keep]
        if live.delta_vectors is not None
        else np.empty((0, meta["dim"]), dtype=np.float32)
    )
    if len(added):
        added_ids, vectors = _read_vectors_of(corpus, added, fingerprint, encoder)
        delta_ids = np.concatenate([delta_ids, added_ids])
        delta_vectors = np.concatenate([delta_vectors, vectors])
    meta = {
        **meta,
        "n": int((record_ids >= 0).sum()) + len(delta_ids),
        "delta_n": len(delta_ids),
        "changes_since_build": changes,
        "updated_at": time.time(),
    }
    version = _publish(corpus, live.searcher, record_ids, meta, (delta_ids, delta_vectors))
    logger.info(
        "corpus %s: index %s updated without a rebuild (+%s −%s) in %.1fs",
        corpus.pk,
        version,
        len(added),
        len(removed),
        time.perf_counter() - started,
    )
    return version


def rebuild_index(*, corpus: Corpus, encoder: str | None = None) -> str:
    """Build the corpus's index from its stored vectors of ``encoder`` (default: the serving
    one) and make it live; return the version. Given another encoder than the serving one,
    this is the swap of a change of encoder: the new index serves that encoder's vectors.

    Never encodes. With no encoded vectors the corpus gets version "" and its index dir is
    removed. If anything fails before the swap, the previous version stays live and on disk.
    """
    state = corpus_index(corpus)
    encoder = encoder or state.encoder or corpus.encoder
    CorpusIndex.objects.filter(pk=corpus.pk).update(build_started_at=timezone.now())
    ids, vectors, fingerprint = read_vectors(corpus, encoder=encoder)
    root = index_root(corpus.pk)
    if len(ids) == 0:
        CorpusIndex.objects.filter(pk=corpus.pk).update(
            version="", indexed_count=0, encoder=encoder, build_finished_at=timezone.now()
        )
        _remove(root)
        return ""

    threshold = settings.CRIER_ANN_THRESHOLD
    started = time.perf_counter()
    searcher = scann_index.build_searcher(vectors, ann_threshold=threshold)
    meta = {
        "n": len(ids),
        "built_n": len(ids),
        "changes_since_build": 0,
        "dim": vectors.shape[1],
        "kind": scann_index.config_kind(len(ids), ann_threshold=threshold),
        "encoder": encoder,
        "encoder_fingerprint": fingerprint,
        "built_at": time.time(),
    }
    if meta["kind"] == scann_index.TREE_AH:
        meta["tree"] = scann_index.tree_params(len(ids))
    version = _publish(corpus, searcher, ids, meta)
    logger.info(
        "corpus %s: index %s (%s vectors, %s) in %.1fs",
        corpus.pk,
        version,
        len(ids),
        meta["kind"],
        time.perf_counter() - started,
    )
    return version


def _publish(
    corpus: Corpus,
    searcher,
    record_ids: np.ndarray,
    meta: dict,
    delta: tuple[np.ndarray, np.ndarray] | None = None,
) -> str:
    """Write aside, rename into place, record the version (and the encoder whose vectors it
    holds) on the corpus's index row, drop older versions."""
    root = index_root(corpus.pk)
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f"{TMP_PREFIX}{uuid.uuid4().hex}"
    try:
        scann_index.save_index(tmp, searcher, record_ids, meta, delta)
        version = new_version()
        os.rename(tmp, root / version)
        scann_index.fsync(root)
    except BaseException:
        _remove(tmp)
        raise

    # Conditional: a concurrent build that swapped in a newer version wins, whichever ends last.
    updated = CorpusIndex.objects.filter(corpus_id=corpus.pk, version__lt=version).update(
        version=version,
        indexed_count=meta["n"],
        encoder=meta.get("encoder") or corpus.encoder,
        build_finished_at=timezone.now(),
        last_error="",
    )
    if not updated:
        _remove(root / version)
        live = CorpusIndex.objects.filter(pk=corpus.pk).values_list("version", flat=True).first()
        if live is None:  # the corpus was deleted meanwhile
            drop_index(corpus_id=corpus.pk)
            return ""
        return live
    _remove_others(root, keep=version)
    return version


def _load_live(corpus: Corpus, version: str | None = None) -> scann_index.LoadedIndex | None:
    """A private copy of the live index (never the cached one that serves searches); its
    ``version`` when the caller has read it already."""
    if version is None:
        version = corpus_index(corpus).version
    if not version:
        return None
    try:
        return scann_index.LoadedIndex.load(index_root(corpus.pk) / version)
    except (OSError, ValueError, KeyError) as exc:
        logger.warning("corpus %s: live index unreadable (%s); rebuilding", corpus.pk, exc)
        return None


def _stored_ids(corpus: Corpus, fingerprint: str, encoder: str) -> np.ndarray:
    rows = encoded_vectors(corpus=corpus, encoder=encoder, fingerprint=fingerprint).values_list(
        "image_id", flat=True
    )
    return np.fromiter(rows.iterator(chunk_size=10_000), dtype=np.int64)


def _read_vectors_of(
    corpus: Corpus, record_ids: np.ndarray, fingerprint: str, encoder: str
) -> tuple[np.ndarray, np.ndarray]:
    ids, vectors = [], []
    for start in range(0, len(record_ids), READ_CHUNK):
        chunk = record_ids[start : start + READ_CHUNK]
        rows = encoded_vectors(
            corpus=corpus, encoder=encoder, fingerprint=fingerprint, record_ids=chunk
        )
        for record_id, blob in rows.values_list("image_id", "vector"):
            ids.append(record_id)
            vectors.append(as_vector(blob))
    return np.asarray(ids, dtype=np.int64), np.stack(vectors)


def drop_index(*, corpus_id: int) -> None:
    _remove(index_root(corpus_id))


def _older_than(path: Path, seconds: float) -> bool:
    try:
        return time.time() - path.stat().st_mtime > seconds
    except FileNotFoundError:
        return False


def sweep_orphan_index_dirs(*, grace_seconds: float = SWEEP_GRACE_SECONDS) -> list[Path]:
    """Remove index dirs nothing points to; return them. A live version is never touched.

    Orphans: the dir of a corpus that no longer exists, a version that is not its corpus's live
    one and a leftover ``.tmp-*`` (both only once older than ``grace_seconds``, so a running
    build is not raced), and stray files.
    """
    base = Path(settings.CRIER_INDEX_DIR)
    if not base.is_dir():
        return []
    live = {
        pk: version or ""
        for pk, version in Corpus.objects.values_list("pk", "search_index__version")
    }
    removed: list[Path] = []
    for root in base.iterdir():
        corpus_id = int(root.name) if root.name.isdigit() else None
        if corpus_id not in live:
            # Not a corpus (any more). A corpus created after `live` was read has no dir old
            # enough to matter, but check the DB once more before deleting a numeric dir.
            if corpus_id is not None and Corpus.objects.filter(pk=corpus_id).exists():
                continue
            if _older_than(root, grace_seconds) or corpus_id is not None:
                _remove(root) if root.is_dir() else root.unlink(missing_ok=True)
                removed.append(root)
            continue
        if not root.is_dir():
            continue
        for child in root.iterdir():
            if child.name == live[corpus_id] or not _older_than(child, grace_seconds):
                continue
            if _superseded_recently(root, child.name, live[corpus_id]):
                continue
            # Re-read: a build may have swapped this version in after `live` was read.
            if CorpusIndex.objects.filter(pk=corpus_id, version=child.name).exists():
                continue
            _remove(child) if child.is_dir() else child.unlink(missing_ok=True)
            removed.append(child)
    return removed
