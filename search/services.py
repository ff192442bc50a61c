"""Queries against a corpus's live index: by vector, by image, or by a record already stored."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import cache

import numpy as np
from django.conf import settings
from PIL import Image

from corpora.models import Corpus, ImageRecord
from crier_site.errors import Conflict, InvalidInput, NotFound
from search import encoders
from search.copies import store
from search.copies import words as visual_words
from search.copies.candidates import (
    PART_PENALTY,
    PENALISED_VIEWS,
    QUERY_PLAN,
    best_per_image,
    to_verify,
)
from search.copies.described import Described, described
from search.copies.local import LocalFeatures, Match, extract_sets
from search.copies.matching import COPY, SIMILAR, copies_first, verify_targets
from search.copies.parts import Box, View, picture_boxes
from search.copies.parts_index import parts_index
from search.copies.words_index import words_index
from search.encoding.preprocessing import decode_side, open_image
from search.indices.build import index_root, read_vectors
from search.indices.cache import searchers
from search.indices.scann_index import LoadedIndex
from search.queries.filtered import FilteredSearch
from search.queries.filters import ImageFilters, apply_filters
from search.queries.params import MAX_DEPTH, Page
from search.queries.regions import Region
from search.queries.vectors import expand_queries, top_k
from search.selectors import (
    as_vector,
    encoded_vectors,
    image_and_vector,
    index_version,
    live_version,
    serving_encoder,
    with_labels,
)


class IndexNotReady(Conflict):
    code = "index_not_ready"


@dataclass(frozen=True)
class Hit:
    record: ImageRecord  # loaded once, by the search: a record deleted since is never a hit
    score: float
    # Where the hit is a copy of the query (verified with local features), else None: similar.
    match: Match | None = None

    @property
    def record_id(self) -> int:
        return self.record.pk

    @property
    def kind(self) -> str:
        return COPY if self.match is not None else SIMILAR


@dataclass(frozen=True)
class CopyQuery:
    """What copy search adds to a query (docs/copies.md): more views of it, searched beside its
    vector (turned, mirrored, its picture boxes, a grid of windows: ``(m, dim)``, or None), and
    its local features (``search.copies.local.extract_sets``), to verify the best hits with,
    and their visual words (``search.copies.words``, one array a feature set; None: none), to
    find more candidates with: found already, or still being found beside the encoder and the
    search (a ``Future`` of both). ``penalised``: which views' matches count
    ``candidates.PART_PENALTY`` less (grid windows)."""

    views: np.ndarray | None
    features: list[LocalFeatures] | Future[tuple[list[LocalFeatures], list[np.ndarray]]]
    penalised: np.ndarray | None = None
    words: list[np.ndarray] | None = None

    def local_features(self) -> list[LocalFeatures]:
        if isinstance(self.features, Future):
            return self.features.result()[0]
        return self.features

    def visual_words(self) -> list[np.ndarray] | None:
        if isinstance(self.features, Future):
            return self.features.result()[1]
        return self.words


def _query_features(
    picture: Image.Image, boxes: list[Box] | Future[list[Box]]
) -> tuple[list[LocalFeatures], list[np.ndarray]]:
    """A query picture's local feature sets and their visual words; given a ``Future`` for its
    picture boxes, they are found first, here, and handed over through it."""
    if isinstance(boxes, Future):
        try:
            found = picture_boxes(picture)
        except BaseException as exc:
            boxes.set_exception(exc)
            raise
        boxes.set_result(found)
        boxes = found
    sets = extract_sets(picture, boxes)
    return sets, visual_words.words_of(sets)


# A query picture's local features are found here while the request's thread encodes its views
# and searches them (OpenCV and LiteRT release the GIL): docs/benchmarks.md "Copy search".
_features_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="copy-features")


@dataclass(frozen=True)
class SearchResult:
    hits: list[Hit]
    took_ms: float
    index_version: str
    exact: bool
    # The query picture as decoded for the encoder (region applied), for a preview.
    query_picture: Image.Image | None = None
    offset: int = 0
    min_score: float | None = None
    # With min_score: how many images score at least that much, counted among the best
    # MAX_DEPTH (matched_capped: the count stopped there). None without min_score.
    matched: int | None = None
    matched_capped: bool = False
    has_more: bool = False

    @property
    def next_offset(self) -> int | None:
        return self.offset + len(self.hits) if self.has_more else None


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
    top = top_k(scores, n)
    return ids[top], scores[top], vectors.shape[1]


def _no_index(corpus: Corpus) -> IndexNotReady:
    return IndexNotReady(
        "This corpus has no search index yet.", status=corpus.status, corpus_id=corpus.pk
    )


def require_index(corpus: Corpus) -> LoadedIndex:
    """The corpus's live index; ``IndexNotReady`` (409) when it has none or it is being
    swapped out. Its version is read from the index row loaded with the corpus
    (``search.selectors.get_searched_corpus``: no query of its own), else in one query."""
    version = live_version(corpus)
    if not version:
        raise _no_index(corpus)
    return _load(corpus, version)


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


def _load(corpus: Corpus, version: str) -> LoadedIndex:
    """The corpus's live index. A replaced version stays on disk for a while
    (search/indices/build.py) so a search that read it as live can still open it; one that took
    longer than that is retried once with the version that is live now."""
    try:
        return searchers.get(corpus.pk, version, index_root(corpus.pk) / version)
    # ScaNN raises RuntimeError for a missing or partial directory.
    except (FileNotFoundError, ValueError, RuntimeError) as exc:
        live = index_version(corpus)
        if live and live != version:
            return _load(corpus, live)
        raise IndexNotReady(
            "This corpus's search index is not available right now (being replaced, or missing "
            "on disk); try again shortly. Staff can rebuild it from the admin.",
            status=corpus.status,
            corpus_id=corpus.pk,
        ) from exc


def _served_encoder(index: LoadedIndex | None) -> str | None:
    """The encoder whose vectors ``index`` holds (None: exact search, or an index built before
    its meta named it; readers then ask ``serving_encoder``)."""
    return index.meta.get("encoder") if index is not None else None


def _alive_hits(
    corpus: Corpus,
    ids: np.ndarray,
    scores: np.ndarray,
    exclude: set[int],
    encoder: str | None = None,
) -> list[Hit]:
    """The hits whose records still exist, each with its record (the one place where records
    deleted since the index was built are dropped) and, given the serving ``encoder``, its
    predicted labels read in the same query."""
    candidates = [(int(i), float(s)) for i, s in zip(ids, scores, strict=True) if i not in exclude]
    images = corpus.images.all()
    if encoder:
        images = with_labels(images, encoder)
    records = images.in_bulk([i for i, _ in candidates])
    if encoder:
        for record in records.values():
            record.labels = record.served_labels or []
    return [Hit(record=records[i], score=s) for i, s in candidates if i in records]


def search_vectors(
    *,
    corpus: Corpus,
    query: np.ndarray,
    k: int = 10,
    exact: bool = False,
    exclude_ids: Collection[int] = (),
    expansion: int | None = None,
    page: Page | None = None,
    filters: ImageFilters | None = None,
) -> SearchResult:
    """Top-``k`` records of ``corpus`` by dot product with ``query`` (an L2-normalised vector),
    or the slice of the ranking ``page`` asks for (offset, min_score), among the images
    ``filters`` keep (``search.queries.filtered``: the true top-k of the matching images).

    Records deleted since the index was built never show up. ``exact=True`` scans the stored
    vectors with numpy instead of the index (for checks and evaluation). ``expansion`` (default
    ``settings.CRIER_QUERY_EXPANSION``; 0 = off) is α-query expansion: the query is averaged
    with its top ``expansion`` hits (weighted by similarity³) and searched again; scores are
    then similarities to the expanded query (docs/evaluation.md has the before/after figures).
    ``k`` and ``page`` come validated from the edge (``search.queries.params``).
    """
    index = None if exact else require_index(corpus)
    page = page or Page(k=k)
    return _search(
        corpus,
        index,
        query,
        page,
        exclude_ids=exclude_ids,
        expansion=expansion,
        filters=filters,
    )


def _search(
    corpus: Corpus,
    index: LoadedIndex | None,
    query: np.ndarray,
    page: Page,
    *,
    exclude_ids: Collection[int] = (),
    expansion: int | None = None,
    filters: ImageFilters | None = None,
    copies: CopyQuery | None = None,
) -> SearchResult:
    """Search the live ``index`` resolved once by the caller (``None``: exact, over the stored
    vectors) among the images ``filters`` keep, and cut the ranking to ``page``. With
    ``copies``, the query's other views are searched too (an image scores its best view) and
    the first ``CRIER_COPY_VERIFY_DEPTH`` hits are verified: copies first."""
    started = time.perf_counter()
    exclude = {int(i) for i in exclude_ids}
    # Which copy-search rows the corpus has (the parts and words indices' key): read once.
    rows = cache(lambda: described(corpus))
    if filters is not None and not filters.is_empty:
        search = FilteredSearch(corpus=corpus, index=index, filters=filters)
    elif index is None:
        search = _exact_searcher(corpus)
    elif copies is not None:
        search = _views_searcher(corpus, index, copies.views, copies.penalised, rows)
    else:
        search = lambda query, n: index.search(_as_query(query, index.meta["dim"]), n)  # noqa: E731
    encoder = _served_encoder(index)
    depth = page.depth
    if copies is not None:  # every page verifies the same first hits
        depth = max(depth, min(settings.CRIER_COPY_VERIFY_DEPTH, MAX_DEPTH))
    ranked = _top_hits(corpus, search, query, depth, exclude, encoder)
    if expansion is None:
        expansion = settings.CRIER_QUERY_EXPANSION
    if expansion > 0 and ranked:
        query = _expanded_query(corpus, query, ranked[:expansion], encoder)
        ranked = _top_hits(corpus, search, query, depth, exclude, encoder)
    matched, capped = None, False
    if page.min_score is not None:
        capped = len(ranked) == page.depth and ranked[-1].score >= page.min_score
        ranked = [hit for hit in ranked if hit.score >= page.min_score]
        matched = len(ranked)
    if copies is not None:
        by_words = _WordCandidates(
            corpus, index, query, exclude, encoder, filters, page.min_score, rows
        )
        features, words = copies.local_features(), copies.visual_words()
        ranked = _copies_first(corpus, ranked, features, words, by_words)
    hits, has_more = page.cut(ranked)
    return SearchResult(
        hits=hits,
        took_ms=(time.perf_counter() - started) * 1000,
        index_version=_version_of(corpus, index),
        exact=index is None,
        offset=page.offset,
        min_score=page.min_score,
        matched=matched,
        matched_capped=capped,
        has_more=has_more,
    )


def _version_of(corpus: Corpus, index: LoadedIndex | None) -> str:
    """The version searched: the loaded index's directory (exact searches: the live one)."""
    if index is not None and index.directory is not None:
        return index.directory.name
    return index_version(corpus)


def _views_searcher(
    corpus: Corpus,
    index: LoadedIndex,
    views: np.ndarray | None,
    penalised: np.ndarray | None = None,
    rows: Callable[[], Described] | None = None,
):
    """Search the query and its other ``views`` in one batch, and the corpus's picture boxes
    (``search.copies.parts_index``) with all of them; each image keeps its best score, a match
    of a ``penalised`` view (a grid window) counting ``candidates.PART_PENALTY`` less."""
    dim = index.meta["dim"]
    version = index.directory.name if index.directory is not None else ""
    fingerprint = index.meta.get("encoder_fingerprint", "")
    parts = parts_index(corpus, version, fingerprint, dim, rows() if rows else None)

    def search(query: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        batch = _as_query(query, dim)[np.newaxis]
        if views is not None and len(views):
            batch = np.vstack([batch, np.asarray(views, dtype=np.float32).reshape(-1, dim)])
        rows = np.zeros(len(batch), dtype=bool)  # the query itself (first) is never penalised
        if penalised is not None:
            rows[1:] = penalised
        ids, scores = index.search(batch, n)
        kept = ids >= 0
        pairs = np.broadcast_to(rows[:, np.newaxis], ids.shape)[kept]
        best = best_per_image(ids[kept], scores[kept], penalised=pairs, part_penalty=PART_PENALTY)
        less = np.where(rows, PART_PENALTY, 0.0)
        for image_id, score in parts.search(batch, n, less=less).items():
            best[image_id] = max(score, best.get(image_id, -np.inf))
        ranked = sorted(best, key=lambda i: (-best[i], i))[:n]
        return np.asarray(ranked, dtype=np.int64), np.asarray(
            [best[i] for i in ranked], dtype=np.float32
        )

    return search


@dataclass(frozen=True)
class _WordCandidates:
    """What finding candidates by the query's visual words needs of its search."""

    corpus: Corpus
    index: LoadedIndex | None
    query: np.ndarray  # the query's vector (a copy found by its words scores its similarity)
    exclude: set[int]
    encoder: str | None
    filters: ImageFilters | None
    min_score: float | None
    rows: Callable[[], Described] | None = None

    def first(self, words: list[np.ndarray], skip: set[int], n: int) -> list[Hit]:
        """The first ``n`` images by ``words`` (``search.copies.words_index``) that are not in
        ``skip``, excluded, deleted or filtered out, best first (their scores to come)."""
        if n <= 0 or self.index is None or not any(len(w) for w in words):
            return []
        version = _version_of(self.corpus, self.index)
        rows = self.rows() if self.rows else None
        found = words_index(self.corpus, version, rows).search(
            words, n + len(skip) + len(self.exclude)
        )
        ids = [i for i in found if i not in skip and i not in self.exclude]
        if not ids:
            return []
        images = apply_filters(self.corpus.images.all(), self.filters)
        if self.encoder:
            images = with_labels(images, self.encoder)
        records = images.in_bulk(ids)
        for record in records.values():
            if self.encoder:
                record.labels = record.served_labels or []
        return [Hit(record=records[i], score=0.0) for i in ids if i in records][:n]

    def scored(self, hits: list[Hit]) -> list[Hit]:
        """``hits`` with their similarity to the query (their stored vectors), those below
        ``min_score`` left out."""
        if not hits:
            return []
        rows = encoded_vectors(
            corpus=self.corpus, encoder=self.encoder, record_ids=[hit.record_id for hit in hits]
        ).values_list("image_id", "vector")
        query = np.asarray(self.query, dtype=np.float32).reshape(-1)
        scores = {}
        for image_id, blob in rows:
            vector = as_vector(blob)
            scores[image_id] = float(vector @ query) if vector.shape == query.shape else -1.0
        scored = [replace(hit, score=scores.get(hit.record_id, -1.0)) for hit in hits]
        if self.min_score is None:
            return scored
        return [hit for hit in scored if hit.score >= self.min_score]


def _copies_first(
    corpus: Corpus,
    ranked: list[Hit],
    features: list[LocalFeatures],
    words: list[np.ndarray] | None = None,
    by_words: _WordCandidates | None = None,
) -> list[Hit]:
    """The first ``CRIER_COPY_VERIFY_DEPTH`` hits and the first ``CRIER_COPY_WORDS_DEPTH``
    images by the query's visual ``words`` not among them (``candidates.to_verify``) verified
    against the query's ``features`` with their stored ones; copies (with their match) first,
    the rest of the hits after, each in order. A copy found by its words alone joins the hits
    with its similarity to the query as its score."""
    depth = settings.CRIER_COPY_VERIFY_DEPTH
    if not features or depth <= 0 or not ranked:
        return ranked
    head = ranked[:depth]
    head_ids = {hit.record_id for hit in head}
    extra: list[Hit] = []
    if words and by_words is not None:
        extra = by_words.first(words, head_ids, settings.CRIER_COPY_WORDS_DEPTH)
    shortlist = to_verify(
        [hit.record_id for hit in head], [hit.record_id for hit in extra], depth, len(extra)
    )
    matches = verify_targets(features, store.features_of(shortlist), pool=_features_pool)
    head = [replace(hit, match=matches.get(hit.record_id)) for hit in head]
    listed = {hit.record_id: hit for hit in ranked[depth:]}
    found = [
        replace(listed.get(hit.record_id, hit), match=matches[hit.record_id])
        for hit in extra
        if hit.record_id in matches
    ]
    unscored = [hit for hit in found if hit.record_id not in listed]
    if unscored and by_words is not None:
        scored = {hit.record_id: hit for hit in by_words.scored(unscored)}
        found = [scored.get(hit.record_id, hit) for hit in found if hit.record_id in listed
                 or hit.record_id in scored]  # fmt: skip
    moved = {hit.record_id for hit in found}
    rest = [hit for hit in ranked[depth:] if hit.record_id not in moved]
    head = copies_first(head, matches, lambda hit: hit.record_id)
    copies = len(head_ids & matches.keys())
    return head[:copies] + found + head[copies:] + rest


def _exact_searcher(corpus: Corpus):
    return lambda query, n: _exact(corpus, query, n)[:2]


def _top_hits(
    corpus: Corpus,
    search,
    query: np.ndarray,
    k: int,
    exclude: set[int],
    encoder: str | None = None,
) -> list[Hit]:
    """The best ``k`` live hits, best first; equal scores in image id order, so that the pages
    of one ranking never overlap or skip a hit."""
    wanted = k + len(exclude)
    while True:
        ids, scores = search(query, wanted)
        hits = _alive_hits(corpus, ids, scores, exclude, encoder)
        hits.sort(key=lambda hit: (-hit.score, hit.record_id))
        # Records deleted since the build eat into the top-k: ask for more, up to everything.
        if len(hits) >= k or len(ids) < wanted:
            return hits[:k]
        wanted *= 4


def _expanded_query(
    corpus: Corpus, query: np.ndarray, hits: list[Hit], encoder: str | None = None
) -> np.ndarray:
    """The query expanded with its top hits' stored vectors (of ``encoder``, default the
    serving one): ``search.queries.vectors.expand_queries``, the formula evaluation measures
    (``aqe:n``), with similarities computed exactly."""
    query = np.asarray(query, dtype=np.float32).reshape(-1)
    record_ids = [hit.record_id for hit in hits]
    rows = encoded_vectors(corpus=corpus, encoder=encoder, record_ids=record_ids)
    vectors = [as_vector(blob) for blob in rows.values_list("vector", flat=True)]
    neighbours = np.asarray([v for v in vectors if v.shape == query.shape], dtype=np.float32)
    if len(neighbours) == 0:
        return query
    return expand_queries(query, neighbours, neighbours @ query)


def search_image(
    *,
    corpus: Corpus,
    image,
    k: int = 10,
    region: Region | None = None,
    page: Page | None = None,
    filters: ImageFilters | None = None,
) -> SearchResult:
    """Encode ``image`` (bytes, an uploaded file, a path: anything ``open_image`` accepts), or
    only its ``region``, with the corpus's encoder and search (``page`` instead of ``k``: another
    slice of the ranking). The image passes the same gate as uploads
    (``corpora.validation.decode_image``) and is decoded once, at the scale the encoder needs
    for the part it sees. ``k``, ``page`` and ``filters`` come validated from the edge."""
    index = require_index(corpus)  # before the encoder: no model is loaded for a 409
    # The encoder whose vectors the index holds: while the corpus changes encoder, the old one.
    encoder = encoders.get_encoder(_served_encoder(index) or serving_encoder(corpus))
    _require_same_encoder(corpus, index, encoder.fingerprint)
    share = min(region.right - region.left, region.bottom - region.top) if region else 1.0
    min_side = decode_side(encoder.input_size, encoder.crop_fraction, region_share=share)
    picture = open_image(image, min_side=min_side)
    if region is not None:
        picture = region.crop(picture)
    copies = None
    if settings.CRIER_COPY_SEARCH:
        views, batch, features = _query_views(picture, encoder)
        vectors = encoder.encode_batch(batch)
        vector = vectors[0]  # the whole picture
        penalised = np.asarray([view.kind in PENALISED_VIEWS for view in views[1:]], dtype=bool)
        copies = CopyQuery(views=vectors[1:], features=features, penalised=penalised)
    else:
        vector = encoder.encode_batch(encoder.preprocess(picture)[np.newaxis])[0]
    result = _search(corpus, index, vector, page or Page(k=k), filters=filters, copies=copies)
    return replace(result, query_picture=picture)


def _query_views(
    picture: Image.Image, encoder
) -> tuple[list[View], np.ndarray, Future[tuple[list[LocalFeatures], list[np.ndarray]]]]:
    """A query picture's views (``QUERY_PLAN``), their encoder inputs, and its local features
    being found in a worker thread. The thread looks for the picture boxes first, while this
    one makes the inputs of the views that do not need them (the whole, the grid windows);
    when no worker thread is free, this one finds the boxes itself."""
    boxes: Future[list[Box]] = Future()
    features = _features_pool.submit(_query_features, picture, boxes)
    pixels = {
        view: encoder.preprocess(view.render(picture))
        for view in replace(QUERY_PLAN, boxes=False).views(picture)
    }
    if features.cancel():  # still queued behind other searches' work
        found = picture_boxes(picture)
        features = _features_pool.submit(_query_features, picture, found)
    else:
        found = boxes.result()
    views = QUERY_PLAN.views(picture, boxes=found)
    batch = np.stack(
        [
            pixels[view] if view in pixels else encoder.preprocess(view.render(picture))
            for view in views
        ]
    )
    return views, batch, features


def search_similar(
    *,
    corpus: Corpus,
    record_id: int,
    k: int = 10,
    page: Page | None = None,
    filters: ImageFilters | None = None,
) -> SearchResult:
    """Records most similar to one already in the corpus (itself excluded), among the images
    ``filters`` keep (the query image itself need not match them). A corpus without an index
    (a new one has no image either) is a Conflict before any image is looked up."""
    index = require_index(corpus)
    row = _image_and_vector(corpus, record_id, index)
    if row is not None and row[1] is None:
        # A change of encoder swapped in since the index was read drops the old encoder's
        # vectors: the image's vector is then the new encoder's, searched in the new index.
        live = index_version(corpus)
        if live and live != _version_of(corpus, index):
            index = _load(corpus, live)
            row = _image_and_vector(corpus, record_id, index)
    if row is None:
        raise NotFound("No such image in this corpus.", record_id=record_id)
    status, embedding, fingerprint = row
    if embedding is None:
        raise Conflict("This image is not encoded yet.", record_id=record_id, status=status)
    _require_same_encoder(corpus, index, fingerprint)
    copies = None
    if settings.CRIER_COPY_SEARCH:
        stored = store.stored_of(record_id, fingerprint)
        copies = CopyQuery(views=stored.box_vectors, features=stored.features, words=stored.words)
    return _search(
        corpus,
        index,
        as_vector(embedding),
        page or Page(k=k),
        exclude_ids=[record_id],
        filters=filters,
        copies=copies,
    )


def _image_and_vector(
    corpus: Corpus, record_id: int, index: LoadedIndex
) -> tuple[str, bytes | None, str | None] | None:
    """(status, vector, fingerprint) of the image and its vector of the encoder ``index``
    holds; None: no such image in the corpus."""
    encoder = _served_encoder(index) or serving_encoder(corpus)
    return image_and_vector(corpus_id=corpus.pk, image_id=record_id, encoder=encoder)


@dataclass(frozen=True)
class Comparison:
    """Whether one picture is a copy of another image of the corpus, and where."""

    target: ImageRecord
    match: Match | None
    query: ImageRecord | None = None  # None: an uploaded picture
    took_ms: float = 0.0
    query_picture: Image.Image | None = None  # the uploaded picture as decoded (for a preview)


def _compared_target(corpus: Corpus, image_id: int) -> tuple[ImageRecord, list[LocalFeatures]]:
    record = corpus.images.filter(pk=image_id).first()
    if record is None and not corpus.images.exists():
        # A corpus with nothing in it yet (a new one) is a state, not a missing resource.
        raise Conflict("This corpus has no images yet.", image_id=image_id, status=corpus.status)
    if record is None:
        raise NotFound("No such image in this corpus.", image_id=image_id)
    features = store.features_of([image_id]).get(image_id)
    if features is None:
        raise Conflict(
            "This image is not described for copy search yet; try again when the corpus is ready.",
            image_id=image_id,
            status=corpus.status,
        )
    return record, features


def compare_images(*, corpus: Corpus, image_id: int, other_id: int) -> Comparison:
    """Is image ``other_id`` of the corpus a copy of image ``image_id`` (the query), and
    where do they match (``search.copies.local.Match``, None: not a copy)? Both images' stored
    local features are matched; 404 for an image not in the corpus, 409 for one not described
    yet."""
    started = time.perf_counter()
    query, query_features = _compared_target(corpus, image_id)
    target, target_features = _compared_target(corpus, other_id)
    match = verify_targets(query_features, {other_id: target_features}).get(other_id)
    took = (time.perf_counter() - started) * 1000
    return Comparison(target=target, match=match, query=query, took_ms=took)


def compare_file(*, corpus: Corpus, image, other_id: int) -> Comparison:
    """Is image ``other_id`` of the corpus a copy of the uploaded ``image`` (anything
    ``open_image`` accepts, passing the upload gate), and where?"""
    started = time.perf_counter()
    target, target_features = _compared_target(corpus, other_id)
    picture = open_image(image, min_side=store.DECODE_SIDE)
    query_features = extract_sets(picture, picture_boxes(picture))
    match = verify_targets(query_features, {other_id: target_features}).get(other_id)
    took = (time.perf_counter() - started) * 1000
    return Comparison(target=target, match=match, took_ms=took, query_picture=picture)
