"""Vector post-processing from the retrieval literature, as plain numpy functions.

Each step maps (index vectors, query vectors) to new ones, using only statistics of the indexed
corpus (never of the queries), so the search service can apply the same function to a corpus
and its incoming queries. Steps compose with "+", e.g. ``centre+dba``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from search.queries.vectors import expand_queries, l2_normalise, top_k, weighted_mean

NONE = "none"
Vectors = tuple[np.ndarray, np.ndarray]


def centre(index: np.ndarray, queries: np.ndarray) -> Vectors:
    """Subtract the corpus mean and re-normalise: removes the direction every image shares, so
    cosine similarity measures what distinguishes images rather than what they have in common."""
    mean = index.mean(axis=0, keepdims=True)
    return l2_normalise(index - mean), l2_normalise(queries - mean)


def whiten(index: np.ndarray, queries: np.ndarray, dims: int = 256) -> Vectors:
    """PCA whitening learnt on the corpus (Jégou & Chum 2012): centre, rotate onto the top
    ``dims`` principal axes, scale each to unit variance, re-normalise. The eigenvalues are
    shrunk towards their mean so that near-empty axes are not blown up into noise."""
    mean = index.mean(axis=0, keepdims=True)
    centred = index - mean
    dims = max(1, min(dims, centred.shape[1], len(centred) - 1))
    _, singular, axes = np.linalg.svd(centred, full_matrices=False)
    variances = singular[:dims] ** 2 / max(1, len(centred) - 1)
    scale = 1.0 / np.sqrt(variances + variances.mean())
    project = axes[:dims].T * scale
    return l2_normalise(centred @ project), l2_normalise((queries - mean) @ project)


def _nearest(vectors: np.ndarray, index: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """For each row of ``vectors``, its ``n`` nearest rows of ``index`` (itself included when
    it is indexed), shape (rows, n, d), and their similarities (rows, n)."""
    n = min(n, len(index))
    neighbours = np.empty((len(vectors), n, index.shape[1]), dtype=np.float32)
    similarities = np.empty((len(vectors), n), dtype=np.float32)
    for start in range(0, len(vectors), 512):
        sims = vectors[start : start + 512] @ index.T
        top = top_k(sims, n)
        neighbours[start : start + len(sims)] = index[top]
        similarities[start : start + len(sims)] = np.take_along_axis(sims, top, axis=1)
    return neighbours, similarities


def dba(index: np.ndarray, queries: np.ndarray, n: int = 3, alpha: float = 3.0) -> Vectors:
    """Database-side augmentation (αDBA, Radenović et al. 2018): every indexed vector becomes
    the weighted mean of its n nearest indexed neighbours, itself included. Queries unchanged."""
    return weighted_mean(*_nearest(index, index, n), alpha), queries


def aqe(index: np.ndarray, queries: np.ndarray, n: int = 3, alpha: float = 3.0) -> Vectors:
    """α-query expansion: the query plus its n nearest indexed vectors, weighted by
    similarity^alpha, re-normalised. Costs one extra search per query in a service."""
    return index, expand_queries(queries, *_nearest(queries, index, n), alpha)


STEPS: dict[str, Callable[..., Vectors]] = {
    "centre": centre,
    "whiten": whiten,
    "dba": dba,
    "aqe": aqe,
}


def names() -> list[str]:
    return [NONE, *STEPS]


def apply(spec: str, index: np.ndarray, queries: np.ndarray) -> Vectors:
    """Apply the "+"-separated steps of ``spec`` in order; ``none`` is the identity.

    A step may carry its main parameter after a colon: ``dba:5`` (neighbours), ``whiten:128``
    (dimensions).
    """
    index = np.asarray(index, dtype=np.float32)
    queries = np.asarray(queries, dtype=np.float32)
    for step in spec.split("+"):
        name, _, arg = step.partition(":")
        if name == NONE:
            continue
        if name not in STEPS or (arg and not arg.isdigit()):
            raise ValueError(f"unknown post-processing {step!r}; choose from {', '.join(names())}")
        index, queries = STEPS[name](index, queries, *([int(arg)] if arg else []))
    return index, queries


def is_valid(spec: str) -> bool:
    try:
        apply(spec, np.eye(2, dtype=np.float32), np.eye(2, dtype=np.float32))
    except ValueError:
        return False
    return True
