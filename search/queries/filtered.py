"""The ranking of a query among the images a filter keeps (search.queries.filters.ImageFilters).

The answer is the top of the ranking among matching images, never "whatever survived the
index's first k". Two ways, the cheaper chosen per search (``FilteredSearch.prefers_exact``):

- **Exact scan**: the matching records' vectors are scored exactly. Their ids come from the
  database (the filter is SQL); their vectors from the index's own float copy on disk
  (memory-mapped, ``LoadedIndex.stored_vectors``), or from the stored embeddings when the index
  has none. Chosen when few images match (at most ``EXACT_SCAN_MAX``, counted first) and
  scoring them costs less than the over-fetch below would.
- **Over-fetch**: the index is asked for more hits than wanted (by the share of images that
  match) and the candidates are checked against the filter in the database, asking again
  deeper until enough survive. A tree index searches more leaves for a smaller share
  (``leaves_to_search / share``), so that the leaves hold as many *matching* vectors as an
  unfiltered search's leaves hold vectors: its recall among matching images stays that of an
  unfiltered search. The share is the counted one, or, when too many match to count, the
  share among the query's neighbours in the tree's own leaves (one look first). When the index
  can give no more, the exact scan answers instead.

With a brute-force index (below ``CRIER_ANN_THRESHOLD`` vectors) both ways give the exact top-k
among matching images; with a tree index the over-fetch is as approximate as an unfiltered
search. docs/metadata.md ("Filters") explains, benchmarks/filters.py measures
(docs/benchmarks.md).
"""

from __future__ import annotations

import math

import numpy as np

from corpora.models import Corpus, ImageRecord, ImageStatus
from search.indices.build import current_fingerprint
from search.indices.scann_index import BRUTE_FORCE, TREE_AH, LoadedIndex
from search.queries.filters import ImageFilters
from search.selectors import as_vector, encoded_vectors

# At most this many matching images are counted (and may be scanned exactly); when more match
# the search over-fetches from the index.
EXACT_SCAN_MAX = 2_000
# Costs in µs, measured on PostgreSQL with 1280-d vectors (benchmarks/filters.py): checking one
# candidate id against the filter (3.6 µs a row, in one query per round); scoring one stored
# vector read from the database (35 µs: 0.027 a float) or from the index's memory-mapped copy.
CHECK_US = 3.6
READ_US_PER_FLOAT = {"database": 0.027, "index": 0.001}
# Record ids checked against the filter per query (SQLite binds at most 32766 parameters).
CHECK_CHUNK = 5_000
READ_CHUNK = 2_000
# The first over-fetch asks for at least this many times the hits wanted (and OVERFETCH_MIN),
# and for the share of matching images, with this margin.
OVERFETCH_FACTOR = 4
OVERFETCH_MIN = 100
OVERFETCH_MARGIN = 1.5


class FilteredSearch:
    """``search(query, n) → (record ids, scores)``: the best ``n`` images of ``corpus`` that
    ``filters`` keep, best first (equal scores by id), every one an existing record that
    matches now. ``index=None`` scans every matching record's stored vector (exact search).

    Made once per request: it remembers which records it checked and the vectors it read, so a
    second search (query expansion) costs no more queries.
    """

    def __init__(self, *, corpus: Corpus, index: LoadedIndex | None, filters: ImageFilters) -> None:
        self.corpus = corpus
        self.index = index
        encoded = ImageRecord.objects.filter(corpus=corpus, status=ImageStatus.ENCODED)
        self.records = filters.apply(encoded).order_by()
        self.strategy: str | None = None  # "exact" or "overfetch", chosen at the first search
        self.leaves_searched: int | None = None  # by a tree index's last over-fetch
        self._checked: dict[int, bool] = {}
        self._vectors: tuple[np.ndarray, np.ndarray] | None = None
        self._few: list[int] | None = None
        if index is not None:
            probe = list(self.records.values_list("id", flat=True)[: EXACT_SCAN_MAX + 1])
            if len(probe) <= EXACT_SCAN_MAX:
                self._few = probe

    @property
    def matching(self) -> int | None:
        """How many records match, when at most ``EXACT_SCAN_MAX`` (else None)."""
        return None if self._few is None else len(self._few)

    def _share(self) -> float:
        """The share of the index's vectors that match: known, or at least what the count
        stopped at."""
        assert self.index is not None
        counted = self.matching if self.matching is not None else EXACT_SCAN_MAX + 1
        return min(1.0, max(counted, 1) / max(self.index.size, 1))

    def prefers_exact(self, n: int) -> bool:
        """Whether scoring the matching vectors costs less than checking the candidates that
        finding ``n`` of them in the index would take."""
        if self.index is None:
            return True
        if self.matching is None:
            return False
        if self.matching == 0:
            return True
        source = "index" if self.index.directory is not None else "database"
        scan = self.matching * self.index.meta["dim"] * READ_US_PER_FLOAT[source]
        return scan <= self._first_overfetch(n) * CHECK_US

    def __call__(self, query: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        query = np.asarray(query, dtype=np.float32).reshape(-1)
        if self.strategy is None:
            self.strategy = "exact" if self.prefers_exact(n) else "overfetch"
        if self.strategy == "exact":
            return self._exact(query, n)
        return self._overfetch(query, n)

    # --- many matching images: over-fetch from the index ---------------------------------------

    def _first_overfetch(self, n: int, share: float | None = None) -> int:
        assert self.index is not None
        share = share or self._share()
        wanted = max(OVERFETCH_FACTOR * n, OVERFETCH_MIN, OVERFETCH_MARGIN * n / share)
        return min(self.index.size, math.ceil(wanted))

    def leaves(self, share: float | None = None) -> int | None:
        """Leaves for a tree index to search: its own number over the share of matching
        vectors (``share``, default: the counted one), so that they hold as many matching
        vectors as its own leaves hold vectors. None: not a tree index."""
        tree = self.index.meta.get("tree") if self.index is not None else None
        if self.index is None or self.index.meta.get("kind") != TREE_AH or not tree:
            return None
        leaves = math.ceil(tree["leaves_to_search"] / (share or self._share()))
        return min(tree["num_leaves"], leaves)

    def _local_share(self, query: np.ndarray, n: int) -> float | None:
        """Too many matched to count: the share of matching vectors among the query's
        neighbours in the tree's own leaves (what decides how many of them more leaves hold),
        or None when none of those match."""
        assert self.index is not None
        ids, _ = self.index.search(query, self._first_overfetch(n, share=1.0))
        keep = self._matching(ids)
        return keep.sum() / len(ids) if keep.any() else None

    def _overfetch(self, query: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        index = self.index
        assert index is not None
        share = None
        if self.matching is None and self.leaves() is not None:
            share = self._local_share(query, n)
        wanted, leaves = self._first_overfetch(n, share), self.leaves(share)
        self.leaves_searched = leaves
        while True:
            ids, scores = index.search(query, wanted, leaves=leaves)
            keep = self._matching(ids)
            if keep.sum() >= n:
                return _best(ids[keep], scores[keep], n)
            if len(ids) >= index.size and index.meta.get("kind") == BRUTE_FORCE:
                # Every indexed vector was ranked: nothing more to find.
                return _best(ids[keep], scores[keep], n)
            if len(ids) < wanted or wanted >= index.size:
                # The tree's searched leaves hold no more: scan the matching vectors.
                return self._exact(query, n)
            share = keep.sum() / len(ids)
            deeper = wanted * 8 if share == 0 else math.ceil(n / share * OVERFETCH_MARGIN)
            wanted = min(index.size, max(deeper, wanted * 2))

    def _matching(self, ids: np.ndarray) -> np.ndarray:
        """Which of ``ids`` (an index's answer; -1 for removed rows) are records the filter
        keeps, asking the database about those not checked yet."""
        unknown = [int(i) for i in ids if i >= 0 and int(i) not in self._checked]
        for start in range(0, len(unknown), CHECK_CHUNK):
            chunk = unknown[start : start + CHECK_CHUNK]
            kept = set(self.records.filter(pk__in=chunk).values_list("id", flat=True))
            self._checked.update((i, i in kept) for i in chunk)
        return np.fromiter(
            (i >= 0 and self._checked[int(i)] for i in ids), dtype=bool, count=len(ids)
        )

    # --- few matching images, or the index gave too few: exact scan ----------------------------

    def _exact(self, query: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        if self._vectors is None:
            self._vectors = self._from_index()
        if self._vectors is None and self._few is not None:
            self._vectors = self._decode(list(self._rows(self.records.filter(pk__in=self._few))))
        if self._vectors is not None:
            ids, vectors = self._vectors
            return _best(ids, vectors @ query if len(ids) else np.empty(0, np.float32), n)
        # Many matching records and no index copy: stream them, keeping the best n.
        best_ids, best_scores = np.empty(0, np.int64), np.empty(0, np.float32)
        for ids, vectors in self._chunks():
            scores = vectors @ query
            best_ids, best_scores = _best(
                np.concatenate([best_ids, ids]), np.concatenate([best_scores, scores]), n
            )
        return best_ids, best_scores

    def _from_index(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The matching records' vectors from the index's own copy (None: it has none)."""
        if self.index is None or self.index.directory is None:
            return None
        ids = self._few
        if ids is None:
            ids = list(self.records.values_list("id", flat=True).iterator(chunk_size=10_000))
        return self.index.stored_vectors(np.asarray(ids, dtype=np.int64))

    def _rows(self, records):
        """(id, vector) of ``records`` with the searched encoder's vectors."""
        encoder = self.index.meta.get("encoder") if self.index is not None else None
        if self.index is not None:
            fingerprint = self.index.meta.get("encoder_fingerprint") or None
        else:
            fingerprint = current_fingerprint(self.corpus)
        vectors = encoded_vectors(corpus=self.corpus, encoder=encoder, fingerprint=fingerprint)
        return vectors.filter(image_id__in=records.values("pk")).values_list("image_id", "vector")

    def _chunks(self):
        """(ids, vectors) of every matching record, a chunk at a time."""
        batch: list[tuple[int, bytes]] = []
        for row in self._rows(self.records).iterator(chunk_size=READ_CHUNK):
            batch.append(row)
            if len(batch) == READ_CHUNK:
                yield self._decode(batch)
                batch = []
        if batch:
            yield self._decode(batch)

    def _decode(self, rows) -> tuple[np.ndarray, np.ndarray]:
        """Stored embeddings as a matrix; with an index, only records it holds (as an
        unfiltered search would find them) with its dimension."""
        dim = self.index.meta["dim"] if self.index is not None else None
        ids, vectors = [], []
        for record_id, blob in rows:
            vector = as_vector(blob)
            if vector.size == 0 or (dim is not None and vector.size != dim):
                continue
            dim = dim or vector.size
            ids.append(record_id)
            vectors.append(vector)
        ids_array = np.asarray(ids, dtype=np.int64)
        matrix = np.asarray(vectors, dtype=np.float32).reshape(len(ids), dim or 0)
        if self.index is not None:
            held = np.isin(ids_array, np.concatenate([self.index.record_ids, self.index.delta_ids]))
            ids_array, matrix = ids_array[held], matrix[held]
        return ids_array, matrix


def _best(ids: np.ndarray, scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``n`` best (highest score, then lowest id), best first."""
    order = np.lexsort((ids, -scores))[:n]
    return ids[order], scores[order].astype(np.float32)
