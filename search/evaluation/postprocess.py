"""Vector post-processing from the retrieval literature, as plain numpy functions.

Each step maps (index vectors, query vectors) to new ones, using only statistics of the indexed
corpus (never of the queries), so the search service can apply the same function to a corpus
and its incoming queries. Steps compose with "+", e.g. ``centre+dba``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

NONE = "none"
Vectors = tuple[np.ndarray, np.ndarray]


def _normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


def centre(index: np.ndarray, queries: np.ndarray) -> Vectors:
    """Subtract the corpus mean and re-normalise: removes the direction every image shares, so
    cosine similarity measures what distinguishes images rather than what they have in common."""
    mean = index.mean(axis=0, keepdims=True)
    return _normalise(index - mean), _normalise(queries - mean)


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
    return _normalise(centred @ project), _normalise((queries - mean) @ project)


def _neighbour_mean(vectors: np.ndarray, index: np.ndarray, n: int, alpha: float) -> np.ndarray:
    """Each row of ``vectors`` replaced by the similarity^alpha-weighted mean of its ``n``
    nearest rows of ``index`` (itself included when it is indexed)."""
    n = min(n, len(index))
    out = np.empty_like(vectors)
    for start in range(0, len(vectors), 512):
        sims = vectors[start : start + 512] @ index.T
        top = np.argpartition(-sims, n - 1, axis=1)[:, :n]
        weights = np.maximum(np.take_along_axis(sims, top, axis=1), 0.0) ** alpha
        out[start : start + len(sims)] = np.einsum("qn,qnd->qd", weights, index[top])
    return _normalise(out)


def dba(index: np.ndarray, queries: np.ndarray, n: int = 3, alpha: float = 3.0) -> Vectors:
    """Database-side augmentation (αDBA, Radenović et al. 2018): every indexed vector becomes
    the weighted mean of its n nearest indexed neighbours, itself included. Queries unchanged."""
    return _neighbour_mean(index, index, n, alpha), queries


def aqe(index: np.ndarray, queries: np.ndarray, n: int = 3, alpha: float = 3.0) -> Vectors:
    """α-query expansion: the query plus its n nearest indexed vectors, weighted by
    similarity^alpha, re-normalised. Costs one extra search per query in a service."""
    expanded = _normalise(queries + _neighbour_mean(queries, index, n, alpha))
    return index, expanded


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
