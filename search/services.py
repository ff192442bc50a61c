"""Queries against a corpus's live index: by vector, by image, or by a record already stored."""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
from django.conf import settings

from corpora.models import Corpus, ImageRecord, ImageStatus
from crier_site.errors import Conflict, InvalidInput, NotFound
from search.cache import searchers
from search.indexing import index_root, read_vectors
from search.regions import Region
from search.scann_index import LoadedIndex

MAX_K = 100


class IndexNotReady(Conflict):
    code = "index_not_ready"


@dataclass(frozen=True)
class Hit:
    record_id: int
    score: float


@dataclass(frozen=True)
class SearchResult:
    hits: list[Hit]
    took_ms: float
    index_version: str
    exact: bool


def _validate_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise InvalidInput(f"k must be an integer from 1 to {MAX_K}.", k=k)
    return k


def _as_query(query: np.ndarray, dim: int) -> np.ndarray:
    query = np.asarray(query, dtype=np.float32).reshape(-1)
    if query.size != dim or not np.all(np.isfinite(query)):
        raise InvalidInput(f"The query must be {dim} finite numbers.", dim=dim)
    return query


def _exact(corpus: Corpus, query: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, int]:
    ids, vectors, _ = read_vectors(corpus)
    if len(ids) == 0:
        return ids, np.empty(0, dtype=np.float32), query.size
    scores = vectors @ _as_query(query, vectors.shape[1])
    n = min(n, len(ids))
    top = np.argpartition(-scores, n - 1)[:n]
    top = top[np.argsort(-scores[top], kind="stable")]
    return ids[top], scores[top], vectors.shape[1]


def _no_index(corpus: Corpus) -> IndexNotReady:
    return IndexNotReady(
        "This corpus has no search index yet.", status=corpus.status, corpus_id=corpus.pk
    )


def require_index(corpus: Corpus) -> LoadedIndex:
    """The corpus's live index; ``IndexNotReady`` (409) when it has none or it is being
    swapped out."""
    if not corpus.index_version:
        raise _no_index(corpus)
    return _load(corpus)


def _require_same_encoder(corpus: Corpus, index: LoadedIndex, fingerprint: str) -> None:
    """A query vector must come from the encoder whose vectors the live index holds: after the
    corpus's encoder changed, the old index keeps serving until re-encoding is done."""
    built_with = index.meta.get("encoder_fingerprint")
    if built_with and built_with != fingerprint:
        raise IndexNotReady(
            "This corpus is being re-encoded with another model; search it again when its "
            "status is ready.",
            status=corpus.status,
            corpus_id=corpus.pk,
        )


def _load(corpus: Corpus) -> LoadedIndex:
    version = corpus.index_version
    try:
        return searchers.get(corpus.pk, version, index_root(corpus.pk) / version)
    except (FileNotFoundError, ValueError) as exc:  # swapped out and removed under us
        raise IndexNotReady(
            "This corpus's search index is not available right now (being replaced, or missing "
            "on disk); try again shortly. Staff can rebuild it from the admin.",
            status=corpus.status,
            corpus_id=corpus.pk,
        ) from exc


def _alive_hits(
    corpus: Corpus, ids: np.ndarray, scores: np.ndarray, exclude: set[int]
) -> list[Hit]:
    candidates = [(int(i), float(s)) for i, s in zip(ids, scores, strict=True) if i not in exclude]
    alive = set(
        ImageRecord.objects.filter(corpus=corpus, pk__in=[i for i, _ in candidates]).values_list(
            "pk", flat=True
        )
    )
    return [Hit(record_id=i, score=s) for i, s in candidates if i in alive]


def search_vectors(
    *,
    corpus: Corpus,
    query: np.ndarray,
    k: int = 10,
    exact: bool = False,
    exclude_ids: Collection[int] = (),
    expansion: int | None = None,
) -> SearchResult:
    """Top-``k`` records of ``corpus`` by dot product with ``query`` (an L2-normalised vector).

    Records deleted since the index was built never show up. ``exact=True`` scans the stored
    vectors with numpy instead of the index (for checks and evaluation). ``expansion`` (default
    ``settings.CRIER_QUERY_EXPANSION``; 0 = off) is α-query expansion: the query is averaged
    with its top ``expansion`` hits (weighted by similarity³) and searched again; scores are
    then similarities to the expanded query (docs/evaluation.md has the before/after figures).
    """
    k = _validate_k(k)
    version = corpus.index_version
    if not version and not exact:
        raise _no_index(corpus)
    started = time.perf_counter()
    exclude = {int(i) for i in exclude_ids}
    search = _exact_searcher(corpus) if exact else _index_searcher(corpus)
    hits = _top_hits(corpus, search, query, k, exclude)
    if expansion is None:
        expansion = settings.CRIER_QUERY_EXPANSION
    if expansion > 0 and hits:
        query = _expanded_query(query, hits[:expansion])
        hits = _top_hits(corpus, search, query, k, exclude)
    return SearchResult(
        hits=hits,
        took_ms=(time.perf_counter() - started) * 1000,
        index_version=version,
        exact=exact,
    )


def _exact_searcher(corpus: Corpus):
    return lambda query, n: _exact(corpus, query, n)[:2]


def _index_searcher(corpus: Corpus):
    index = require_index(corpus)
    return lambda query, n: index.search(_as_query(query, index.meta["dim"]), n)


def _top_hits(corpus: Corpus, search, query: np.ndarray, k: int, exclude: set[int]) -> list[Hit]:
    wanted = k + len(exclude)
    while True:
        ids, scores = search(query, wanted)
        hits = _alive_hits(corpus, ids, scores, exclude)[:k]
        # Records deleted since the build eat into the top-k: ask for more, up to everything.
        if len(hits) == k or len(ids) < wanted:
            return hits
        wanted *= 4


EXPANSION_ALPHA = 3.0


def _expanded_query(query: np.ndarray, hits: list[Hit]) -> np.ndarray:
    rows = dict(
        ImageRecord.objects.filter(pk__in=[hit.record_id for hit in hits]).values_list(
            "pk", "embedding"
        )
    )
    expanded = np.asarray(query, dtype=np.float32).reshape(-1).copy()
    for hit in hits:
        blob = rows.get(hit.record_id)
        if blob is not None:
            vector = np.frombuffer(blob, dtype=np.float32)
            if vector.shape == expanded.shape:
                expanded += max(hit.score, 0.0) ** EXPANSION_ALPHA * vector
    return expanded / max(float(np.linalg.norm(expanded)), 1e-12)


def search_image(
    *, corpus: Corpus, image, k: int = 10, region: Region | None = None
) -> SearchResult:
    """Encode ``image`` (anything ``open_image`` accepts), or only its ``region``, with the
    corpus's encoder and search."""
    from search.encoders import get_encoder
    from search.preprocessing import open_image

    k = _validate_k(k)
    index = require_index(corpus)  # before the encoder: no model is loaded for a 409
    encoder = get_encoder(corpus.encoder)
    _require_same_encoder(corpus, index, encoder.fingerprint)
    picture = open_image(image)
    if region is not None:
        picture = region.crop(picture)
    vector = encoder.encode([picture])[0]
    return search_vectors(corpus=corpus, query=vector, k=k)


def search_similar(*, corpus: Corpus, record_id: int, k: int = 10) -> SearchResult:
    """Records most similar to one already in the corpus (itself excluded)."""
    k = _validate_k(k)
    row = (
        ImageRecord.objects.filter(corpus=corpus, pk=record_id)
        .values_list("status", "embedding", "encoder_fingerprint")
        .first()
    )
    if row is None:
        raise NotFound("No such image in this corpus.", record_id=record_id)
    status, embedding, fingerprint = row
    if status != ImageStatus.ENCODED or embedding is None:
        raise Conflict("This image is not encoded yet.", record_id=record_id, status=status)
    _require_same_encoder(corpus, require_index(corpus), fingerprint)
    query = np.frombuffer(embedding, dtype=np.float32)
    return search_vectors(corpus=corpus, query=query, k=k, exclude_ids=[record_id])
