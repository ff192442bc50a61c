"""The two index types under test, built in memory over one split's vectors.

``exact`` is a float32 dot product + sort (the ground truth). ``scann`` is the production
builder (search.indices.scann_index) with ``ann_threshold`` 0 by default, so any index of at least
``MIN_TREE_SIZE`` vectors gets the tree + asymmetric-hashing configuration a large corpus gets;
smaller ones are brute force, exactly as in production.
"""

from __future__ import annotations

import numpy as np

from search.indices import scann_index
from search.queries.vectors import top_k

INDEX_KINDS = ("scann", "exact")
QUERY_CHUNK = 512  # bounds the (chunk, n) score matrix of the exact search


def exact_search(
    vectors: np.ndarray, ids: np.ndarray, queries: np.ndarray, k: int
) -> tuple[np.ndarray, str]:
    k = min(k, len(vectors))
    out = np.empty((len(queries), k), dtype=np.int64)
    for start in range(0, len(queries), QUERY_CHUNK):
        scores = queries[start : start + QUERY_CHUNK] @ vectors.T
        out[start : start + len(scores)] = ids[top_k(scores, k)]
    return out, "exact"


def scann_search(
    vectors: np.ndarray, ids: np.ndarray, queries: np.ndarray, k: int, *, ann_threshold: int
) -> tuple[np.ndarray, str]:
    searcher = scann_index.build_searcher(vectors, ann_threshold=ann_threshold)
    kind = scann_index.config_kind(len(vectors), ann_threshold=ann_threshold)
    index = scann_index.LoadedIndex(
        searcher=searcher,
        record_ids=np.asarray(ids, dtype=np.int64),
        meta={"dim": int(vectors.shape[1]), "kind": kind},
    )
    found, _ = index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
    return np.asarray(found, dtype=np.int64).reshape(len(queries), -1), f"scann-{kind}"


def search(
    kind: str, vectors: np.ndarray, ids: np.ndarray, queries: np.ndarray, k: int,
    *, ann_threshold: int = 0,
) -> tuple[np.ndarray, str]:  # fmt: skip
    """Top-``k`` ``ids`` per query row, best first, and a label for the configuration used."""
    if kind == "exact":
        return exact_search(vectors, ids, queries, k)
    if kind == "scann":
        return scann_search(vectors, ids, queries, k, ann_threshold=ann_threshold)
    raise ValueError(f"unknown index {kind!r}; choose from {', '.join(INDEX_KINDS)}")
