"""The ranking of a query among the images a filter keeps (search.filters.ImageFilters).

The answer is the top of the same ranking an unfiltered search gives, with the images the
filter drops taken out, never "whatever survived the index's first k":

- **Few matching images** (at most ``EXACT_SCAN_MAX``): their stored vectors are scored
  exactly (one query for their ids, one for their vectors), cheaper than over-fetching
  from the index and still exact.
- **Many**: the index is asked for more than needed and the candidates are checked against the
  filter in the database, asking again deeper (guided by the share that survived) until enough
  survive. When the index can give no more — a partitioned (tree) index only searches some
  leaves — the matching records' stored vectors are scanned exactly instead.

With a brute-force index (below ``CRIER_ANN_THRESHOLD`` vectors) both ways give the exact top-k
among matching images; with a tree index the over-fetch is as approximate as the unfiltered
search is. docs/metadata.md ("Filters") and benchmarks/filters.py measure the costs.
"""

from __future__ import annotations

import math

import numpy as np

from corpora.models import Corpus
from search.filters import ImageFilters
from search.indexing import current_fingerprint
from search.scann_index import BRUTE_FORCE, LoadedIndex
from search.selectors import as_vector, encoded_records

# Matching images up to this many are scored exactly from their stored vectors.
EXACT_SCAN_MAX = 2_000
# Record ids checked against the filter per query (SQLite binds at most 32766 parameters).
CHECK_CHUNK = 5_000
READ_CHUNK = 2_000
# The first over-fetch asks for this many times the hits wanted (at least OVERFETCH_MIN).
OVERFETCH_FACTOR = 4
OVERFETCH_MIN = 100
# After the first round, ask for the depth the surviving share suggests, with this margin.
OVERFETCH_MARGIN = 1.5


class FilteredSearch:
    """``search(query, n) → (record ids, scores)``: the best ``n`` images of ``corpus`` that
    ``filters`` keep, best first (equal scores by id), every one an existing record that
    matches now. ``index=None`` scans every matching record's stored vector (exact search).

    Made once per request: it remembers which records it checked and, when few match, their
    vectors, so a second search (query expansion, a deeper page) costs no more queries.
    """

    def __init__(self, *, corpus: Corpus, index: LoadedIndex | None, filters: ImageFilters) -> None:
        self.corpus = corpus
        self.index = index
        self.records = filters.apply(encoded_records(corpus=corpus)).order_by()
        self._checked: dict[int, bool] = {}
        self._vectors: tuple[np.ndarray, np.ndarray] | None = None
        self._few: list[int] | None = None
        if index is not None:
            probe = list(self.records.values_list("id", flat=True)[: EXACT_SCAN_MAX + 1])
            if len(probe) <= EXACT_SCAN_MAX:
                self._few = probe
        self.strategy = "overfetch" if index is not None and self._few is None else "exact"

    def __call__(self, query: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        query = np.asarray(query, dtype=np.float32).reshape(-1)
        if self.strategy == "exact":
            return self._exact(query, n)
        return self._overfetch(query, n)

    # --- many matching images: over-fetch from the index ---------------------------------------

    def _overfetch(self, query: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        index = self.index
        assert index is not None
        wanted = min(index.size, max(OVERFETCH_FACTOR * n, OVERFETCH_MIN))
        while True:
            ids, scores = index.search(query, wanted)
            keep = self._matching(ids)
            if keep.sum() >= n:
                return _best(ids[keep], scores[keep], n)
            complete = len(ids) >= index.size and index.meta.get("kind") == BRUTE_FORCE
            if complete:  # every indexed vector was ranked: nothing more to find
                return _best(ids[keep], scores[keep], n)
            if len(ids) < wanted or wanted >= index.size:
                # A tree index ranks only the vectors in the leaves it searches.
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
        if self._vectors is None and self._few is not None:
            self._vectors = self._read(self.records.filter(pk__in=self._few))
        if self._vectors is not None:
            ids, vectors = self._vectors
            return _best(ids, vectors @ query if len(ids) else np.empty(0, np.float32), n)
        # Many matching records: stream them, keeping the best n (bounded memory).
        best_ids, best_scores = np.empty(0, np.int64), np.empty(0, np.float32)
        for ids, vectors in self._chunks(self.records):
            scores = vectors @ query
            best_ids, best_scores = _best(
                np.concatenate([best_ids, ids]), np.concatenate([best_scores, scores]), n
            )
        return best_ids, best_scores

    def _read(self, records) -> tuple[np.ndarray, np.ndarray]:
        parts = list(self._chunks(records))
        if not parts:
            return np.empty(0, np.int64), np.empty((0, 0), np.float32)
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def _chunks(self, records):
        """(ids, vectors) of ``records`` with the searched encoder's vectors, a chunk at a time;
        with an index, only records it holds (as an unfiltered search would find)."""
        if self.index is not None:
            fingerprint = self.index.meta.get("encoder_fingerprint") or None
            indexed = np.concatenate([self.index.record_ids, self.index.delta_ids])
        else:
            fingerprint, indexed = current_fingerprint(self.corpus), None
        if fingerprint is not None:
            records = records.filter(encoder_fingerprint=fingerprint)
        rows = records.values_list("id", "embedding").iterator(chunk_size=READ_CHUNK)
        batch: list[tuple[int, bytes]] = []
        for row in rows:
            batch.append(row)
            if len(batch) == READ_CHUNK:
                yield self._decode(batch, indexed)
                batch = []
        if batch:
            yield self._decode(batch, indexed)

    def _decode(self, rows, indexed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        dim = self.index.meta["dim"] if self.index is not None else None
        ids, vectors = [], []
        for record_id, blob in rows:
            vector = as_vector(blob)
            if vector.size == 0 or (dim is not None and vector.size != dim):
                continue
            if dim is None:
                dim = vector.size
            ids.append(record_id)
            vectors.append(vector)
        ids_array = np.asarray(ids, dtype=np.int64)
        matrix = np.asarray(vectors, dtype=np.float32).reshape(len(ids), dim or 0)
        if indexed is not None:
            held = np.isin(ids_array, indexed)
            ids_array, matrix = ids_array[held], matrix[held]
        return ids_array, matrix


def _best(ids: np.ndarray, scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``n`` best (highest score, then lowest id), best first."""
    order = np.lexsort((ids, -scores))[:n]
    return ids[order], scores[order].astype(np.float32)
