"""Which rows are indexed, which are queries, and which indexed rows each query should find."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

QUERY_FRACTION = 0.05


@dataclass(frozen=True)
class Split:
    index_rows: np.ndarray  # dataset rows put into the index
    query_rows: np.ndarray  # dataset rows used as queries
    # True when queries are also indexed: a query's own row is then dropped from its results
    # and from its relevant set (leave-one-out).
    queries_indexed: bool


def class_split(labels: np.ndarray, *, seed: int, query_fraction: float = QUERY_FRACTION) -> Split:
    """The seed's protocol: per class, a random ~5% (at least one, if the class has two or more
    images) become queries, the rest go into the index."""
    rng = np.random.default_rng(seed)
    queries: list[np.ndarray] = []
    for label in np.unique(labels):
        rows = rng.permutation(np.flatnonzero(labels == label))
        if len(rows) >= 2:
            queries.append(rows[: max(1, round(len(rows) * query_fraction))])
    query_rows = np.sort(np.concatenate(queries)) if queries else np.zeros(0, dtype=np.int64)
    index_rows = np.setdiff1d(np.arange(len(labels)), query_rows)
    return Split(index_rows=index_rows, query_rows=query_rows, queries_indexed=False)


def leave_one_out(n: int) -> Split:
    """Everything is indexed and every row is a query against all the others."""
    rows = np.arange(n)
    return Split(index_rows=rows, query_rows=rows, queries_indexed=True)


def relevant_counts(labels: np.ndarray, split: Split) -> np.ndarray:
    """(q,) how many indexed rows share each query's label (not counting the query itself)."""
    index_labels, counts = np.unique(labels[split.index_rows], return_counts=True)
    per_label = dict(zip(index_labels.tolist(), counts.tolist(), strict=True))
    counts_q = np.asarray([per_label.get(int(lab), 0) for lab in labels[split.query_rows]])
    return counts_q - 1 if split.queries_indexed else counts_q
