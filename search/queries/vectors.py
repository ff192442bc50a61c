"""The vector arithmetic every part of search shares: normalisation, top-k selection and
α-query expansion. One copy each, so the service runs exactly what evaluation measured."""

from __future__ import annotations

import numpy as np

EXPANSION_ALPHA = 3.0


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    """float32 copies of ``vectors`` scaled to unit length along the last axis (zero rows stay
    zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, np.float32(1e-12))


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` highest ``scores`` along the last axis, best first (ties keep
    their order). Works on one row of scores or on a matrix of them."""
    scores = np.asarray(scores)
    k = min(k, scores.shape[-1])
    if k <= 0:
        return np.empty((*scores.shape[:-1], 0), dtype=np.int64)
    top = np.argpartition(-scores, k - 1, axis=-1)[..., :k]
    order = np.argsort(-np.take_along_axis(scores, top, axis=-1), axis=-1, kind="stable")
    return np.take_along_axis(top, order, axis=-1)


def weighted_mean(
    neighbours: np.ndarray, similarities: np.ndarray, alpha: float = EXPANSION_ALPHA
) -> np.ndarray:
    """Per row, the neighbours (``(..., n, d)``) averaged with weights similarity^alpha
    (negative similarities count 0), re-normalised."""
    weights = np.maximum(similarities, 0.0) ** alpha
    return l2_normalise(np.einsum("...n,...nd->...d", weights, neighbours))


def expand_queries(
    queries: np.ndarray,
    neighbours: np.ndarray,
    similarities: np.ndarray,
    alpha: float = EXPANSION_ALPHA,
) -> np.ndarray:
    """α-query expansion (Radenović et al. 2018): each query (``(..., d)``) plus the
    similarity^alpha-weighted mean of its nearest indexed vectors (``(..., n, d)``, with their
    similarities ``(..., n)``), re-normalised. The formula docs/evaluation.md measures."""
    return l2_normalise(queries + weighted_mean(neighbours, similarities, alpha))
