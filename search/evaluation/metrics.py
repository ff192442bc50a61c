"""Ranking metrics for retrieval, in numpy.

The definitions follow the recommender-systems packages the seed evaluated with, so numbers are
comparable with its published figures:

* AP@k (ml_metrics ``apk``): walk the top k predictions; at each *new* relevant item (a repeat of
  an earlier prediction counts as a miss) add the precision so far; divide by
  ``min(len(actual), k)``. 0 when nothing is relevant.
* AR@k (recmetrics ``_ark``): the same running sum divided by ``len(actual)`` instead, so it is
  small whenever a query has many more relevant items than k (class-level relevance).
* precision@k: new relevant items in the top k over k (missing predictions count as misses);
  recall@k: the same count over ``len(actual)``.

The m-prefixed versions are the plain mean over queries. ``scalar`` functions take lists and are
the reference; ``curves`` computes every k = 1..K at once from a relevance matrix and is what the
runner uses (the tests check the two agree).
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Sequence

import numpy as np


def _hits(actual: Collection[Hashable], predicted: Sequence[Hashable], k: int) -> list[bool]:
    """For each of the top-k predictions: relevant and not a repeat of an earlier prediction."""
    seen: set[Hashable] = set()
    hits = []
    for p in predicted[:k]:
        hits.append(p in actual and p not in seen)
        seen.add(p)
    return hits


def _running_precision_sum(hits: list[bool]) -> float:
    score, num_hits = 0.0, 0
    for i, hit in enumerate(hits):
        if hit:
            num_hits += 1
            score += num_hits / (i + 1)
    return score


def apk(actual: Collection[Hashable], predicted: Sequence[Hashable], k: int = 10) -> float:
    """Average precision at k, as ml_metrics ``apk``."""
    if not actual:
        return 0.0
    return _running_precision_sum(_hits(actual, predicted, k)) / min(len(actual), k)


def ark(actual: Collection[Hashable], predicted: Sequence[Hashable], k: int = 10) -> float:
    """Average recall at k, as recmetrics ``_ark``."""
    if not actual:
        return 0.0
    return _running_precision_sum(_hits(actual, predicted, k)) / len(actual)


def precision_at_k(actual: Collection[Hashable], predicted: Sequence[Hashable], k: int) -> float:
    return sum(_hits(actual, predicted, k)) / k


def recall_at_k(actual: Collection[Hashable], predicted: Sequence[Hashable], k: int) -> float:
    if not actual:
        return 0.0
    return sum(_hits(actual, predicted, k)) / len(actual)


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else 0.0


def mapk(
    actual: Sequence[Collection[Hashable]], predicted: Sequence[Sequence[Hashable]], k: int = 10
) -> float:
    """Mean of :func:`apk` over queries, as ml_metrics ``mapk``."""
    return _mean([apk(a, p, k) for a, p in zip(actual, predicted, strict=True)])


def mark(
    actual: Sequence[Collection[Hashable]], predicted: Sequence[Sequence[Hashable]], k: int = 10
) -> float:
    """Mean of :func:`ark` over queries, as recmetrics ``mark``."""
    return _mean([ark(a, p, k) for a, p in zip(actual, predicted, strict=True)])


def relevance_matrix(predicted: np.ndarray, is_relevant: np.ndarray, k: int) -> np.ndarray:
    """(q, k) bool: prediction j of query i is relevant and not a repeat earlier in row i.

    ``predicted`` (q, m) int ids, -1 for "no prediction"; ``is_relevant`` (q, m) bool, the raw
    relevance of each prediction. Rows shorter than k are padded with misses.
    """
    q, m = predicted.shape
    rel = np.zeros((q, k), dtype=bool)
    width = min(k, m)
    raw = is_relevant[:, :width] & (predicted[:, :width] >= 0)
    # A prediction is a repeat if the same id appears earlier in its row.
    order = np.argsort(predicted[:, :width], axis=1, kind="stable")
    sorted_ids = np.take_along_axis(predicted[:, :width], order, axis=1)
    repeat_sorted = np.zeros_like(sorted_ids, dtype=bool)
    repeat_sorted[:, 1:] = sorted_ids[:, 1:] == sorted_ids[:, :-1]
    repeat = np.zeros_like(repeat_sorted)
    np.put_along_axis(repeat, order, repeat_sorted, axis=1)
    rel[:, :width] = raw & ~repeat
    return rel


def curves(rel: np.ndarray, num_relevant: np.ndarray) -> dict[str, np.ndarray]:
    """Every metric for k = 1..K at once, averaged over queries.

    ``rel`` (q, K) bool from :func:`relevance_matrix`; ``num_relevant`` (q,) the size of each
    query's relevant set. Returns ``{"map", "mar", "precision", "recall"}`` → (K,) float64,
    entry k-1 being the metric at k. Queries with no relevant items score 0, as in the scalars.
    """
    rel = np.asarray(rel, dtype=bool)
    q, big_k = rel.shape
    if q == 0:
        zeros = np.zeros(big_k)
        return {"map": zeros, "mar": zeros, "precision": zeros, "recall": zeros}
    n_rel = np.asarray(num_relevant, dtype=np.float64)[:, None]
    ranks = np.arange(1, big_k + 1, dtype=np.float64)[None, :]
    cum_hits = np.cumsum(rel, axis=1, dtype=np.float64)
    running = np.cumsum(np.where(rel, cum_hits / ranks, 0.0), axis=1)
    has = n_rel > 0
    safe = np.where(has, n_rel, 1.0)
    ap = np.where(has, running / np.minimum(safe, ranks), 0.0)
    ar = np.where(has, running / safe, 0.0)
    recall = np.where(has, cum_hits / safe, 0.0)
    return {
        "map": ap.mean(axis=0),
        "mar": ar.mean(axis=0),
        "precision": (cum_hits / ranks).mean(axis=0),
        "recall": recall.mean(axis=0),
    }
