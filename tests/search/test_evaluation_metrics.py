"""The metrics against hand-computed cases, and the vectorised curves against the scalars."""

from __future__ import annotations

import numpy as np
import pytest

from search.evaluation import metrics, postprocess, splits
from search.evaluation.runner import _drop_self, score


def test_apk_hand_computed():
    # hits at ranks 1 and 3: (1/1 + 2/3) / min(3 relevant, k=5)
    assert metrics.apk([1, 2, 3], [1, 9, 2, 8, 7], k=5) == pytest.approx((1 + 2 / 3) / 3)
    # k=2 truncates: only rank 1 hits, divided by min(3, 2)
    assert metrics.apk([1, 2, 3], [1, 9, 2], k=2) == pytest.approx(1 / 2)
    assert metrics.apk([1], [1, 2, 3], k=3) == 1.0
    assert metrics.apk([5], [1, 2, 5], k=3) == pytest.approx(1 / 3)


def test_ark_divides_by_all_relevant():
    # same running sum as apk, over len(actual) = 4
    assert metrics.ark([1, 2, 3, 4], [1, 9, 2], k=3) == pytest.approx((1 + 2 / 3) / 4)
    assert metrics.ark([1], [1], k=1) == 1.0


def test_precision_and_recall_at_k():
    assert metrics.precision_at_k([1, 2, 3], [1, 9, 2, 8], k=4) == 0.5
    assert metrics.recall_at_k([1, 2, 3], [1, 9, 2, 8], k=4) == pytest.approx(2 / 3)
    # missing predictions count as misses
    assert metrics.precision_at_k([1, 2], [1], k=4) == 0.25


def test_no_relevant_items_scores_zero():
    for fn in (metrics.apk, metrics.ark, metrics.recall_at_k):
        assert fn([], [1, 2, 3], 3) == 0.0
    assert metrics.precision_at_k([], [1, 2], 2) == 0.0


def test_k_larger_than_predictions():
    # two predictions, both relevant, 4 relevant items, k=10: (1 + 1) / min(4, 10)
    assert metrics.apk([1, 2, 3, 4], [1, 2], k=10) == pytest.approx(0.5)
    assert metrics.ark([1, 2, 3, 4], [1, 2], k=10) == pytest.approx(0.5)


def test_duplicate_predictions_count_once():
    # the repeat of 1 at rank 2 is a miss; 2 at rank 3 is the 2nd hit: (1 + 2/3) / 2
    assert metrics.apk([1, 2], [1, 1, 2], k=3) == pytest.approx((1 + 2 / 3) / 2)
    assert metrics.precision_at_k([1, 2], [1, 1, 1], k=3) == pytest.approx(1 / 3)


def test_means():
    actual, predicted = [[1], [2]], [[1, 3], [3, 2]]
    assert metrics.mapk(actual, predicted, k=2) == pytest.approx((1 + 0.5) / 2)
    assert metrics.mark(actual, predicted, k=2) == pytest.approx((1 + 0.5) / 2)
    assert metrics.mapk([], [], k=3) == 0.0


def test_relevance_matrix_marks_repeats_and_pads():
    predicted = np.array([[4, 4, 7], [-1, -1, -1]])
    is_relevant = np.array([[True, True, False], [True, True, True]])
    rel = metrics.relevance_matrix(predicted, is_relevant, k=5)
    assert rel.tolist() == [[True, False, False, False, False], [False] * 5]


def test_curves_match_scalar_definitions():
    rng = np.random.default_rng(3)
    q, m, big_k = 40, 12, 10
    predicted = rng.integers(0, 15, size=(q, m))  # repeats happen
    actual = [set(rng.choice(15, rng.integers(0, 6), replace=False).tolist()) for _ in range(q)]
    pairs = zip(actual, predicted, strict=True)
    is_relevant = np.array([[p in a for p in row] for a, row in pairs])
    rel = metrics.relevance_matrix(predicted, is_relevant, big_k)
    curves = metrics.curves(rel, np.array([len(a) for a in actual]))
    lists = [row.tolist() for row in predicted]
    for k in range(1, big_k + 1):
        assert curves["map"][k - 1] == pytest.approx(metrics.mapk(actual, lists, k))
        assert curves["mar"][k - 1] == pytest.approx(metrics.mark(actual, lists, k))
        assert curves["precision"][k - 1] == pytest.approx(
            np.mean([metrics.precision_at_k(a, p, k) for a, p in zip(actual, lists, strict=True)])
        )
        assert curves["recall"][k - 1] == pytest.approx(
            np.mean([metrics.recall_at_k(a, p, k) for a, p in zip(actual, lists, strict=True)])
        )


def test_class_split_is_per_class_and_seeded():
    labels = np.repeat(np.arange(3), 40)
    a, b = splits.class_split(labels, seed=1), splits.class_split(labels, seed=1)
    assert np.array_equal(a.query_rows, b.query_rows)
    assert np.bincount(labels[a.query_rows]).tolist() == [2, 2, 2]  # 5% of 40
    assert len(np.intersect1d(a.index_rows, a.query_rows)) == 0
    assert len(a.index_rows) + len(a.query_rows) == len(labels)
    assert splits.relevant_counts(labels, a).tolist() == [38] * 6


def test_leave_one_out_drops_self_from_results_and_relevant_set():
    labels = np.array([0, 0, 0, 1, 1])
    split = splits.leave_one_out(len(labels))
    assert splits.relevant_counts(labels, split).tolist() == [2, 2, 2, 1, 1]
    found = np.array([[0, 1, 2], [0, 1, 3], [1, 2, 0], [3, 4, 0], [4, 3, 2]])
    kept = _drop_self(found, split.query_rows, k=2)
    assert kept.tolist() == [[1, 2], [0, 3], [1, 0], [4, 0], [3, 2]]
    curves = score(kept, labels, split, k=2)
    # every query's first result is a true duplicate; query 0 and 2 also find the second
    assert curves["map"][0] == 1.0
    assert curves["map"][1] == pytest.approx((1 + 0.5 + 1 + 1 + 1) / 5)


def test_postprocess_steps_keep_shapes_and_unit_norm():
    rng = np.random.default_rng(0)
    index = rng.normal(size=(30, 8)).astype(np.float32)
    index /= np.linalg.norm(index, axis=1, keepdims=True)
    queries = index[:4] + 0.1
    for spec in ("none", "centre", "whiten:4", "dba:3", "aqe:2", "centre+dba:3+aqe:3"):
        new_index, new_queries = postprocess.apply(spec, index, queries)
        assert new_index.shape[0] == 30 and new_queries.shape[0] == 4
        if spec not in ("none", "dba:3"):  # dba leaves the queries as they are
            assert np.allclose(np.linalg.norm(new_queries, axis=1), 1.0, atol=1e-5)
        assert np.allclose(np.linalg.norm(new_index, axis=1), 1.0, atol=1e-5)
    assert not postprocess.is_valid("centre+nope")
    assert not postprocess.is_valid("dba:x")
