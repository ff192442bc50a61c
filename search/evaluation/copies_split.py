"""A class-split image set (Fashion-MNIST, an image folder) searched the way copy search
searches: ``manage.py evaluate --dataset fashion-mnist --copies``.

The same three ways as ``copies.evaluate_copies`` (global, candidates, verified), with the
protocol of ``runner.run_evaluation``: per split the query rows are searched against the index
rows only, relevant = indexed rows of the query's class, mAP@k averaged over the splits. The
global column is the exact index of ``manage.py evaluate`` (same vectors, same splits), so the
other two read as "what copy search does to these figures".

Each picture is described once for all splits: indexed views (``INDEX_PLAN``) of every row,
query views (``QUERY_PLAN``) of every row that is a query in some split, local features of
every row; all cached in ``cache_dir`` per dataset, encoder fingerprint and view/feature version.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from search.copies import local, parts
from search.copies import words as visual_words
from search.copies.candidates import (
    INDEX_PLAN,
    PART_PENALTY,
    PENALISED_VIEWS,
    QUERY_PLAN,
    best_per_image,
    to_verify,
)
from search.evaluation import metrics
from search.evaluation.copies import (
    DEPTH,
    MODES,
    WORDS_DEPTH,
    _cached,
    _encode_views,
    cache_namer,
    cached_local_features,
    words_index_of,
    words_ranking,
)
from search.evaluation.datasets import EvalDataset
from search.evaluation.splits import Split


def _rows_key(rows: np.ndarray) -> str:
    return hashlib.sha1(np.asarray(rows, dtype=np.int64).tobytes()).hexdigest()[:12]


def rank_split(
    split: Split,
    *,
    global_vectors: np.ndarray,
    index_views: tuple[np.ndarray, np.ndarray],
    query_views: dict[int, tuple[np.ndarray, np.ndarray]],
    verify,
    k: int,
    depth: int,
    part_penalty: float = PART_PENALTY,
    words: list[list[np.ndarray]] | None = None,
    words_depth: int = 0,
) -> dict[str, list[list[int]]]:
    """Dataset rows each query of ``split`` finds, best first, for each mode (``MODES``).

    ``index_views``: (vectors, owner rows, whether whole) of every indexed view;
    ``query_views``: row → its query views' vectors (the whole picture first) and whether each
    is penalised (``candidates.PENALISED_VIEWS``);
    ``verify(query_row, target_row)``: whether local features make the target a copy of the
    query. ``part_penalty``: what a pair through a penalised view counts less
    (``candidates.best_per_image``). ``words``: each row's feature sets' visual words; with
    them the visual words' first ``words_depth`` candidates not among the first ``depth`` are
    verified too (``candidates.to_verify``).
    """
    indexed = np.asarray(split.index_rows)
    i_vec, i_owner, i_whole = index_views
    keep = np.isin(i_owner, indexed)
    i_vec, i_owner, i_whole = i_vec[keep], i_owner[keep], i_whole[keep]
    ranked: dict[str, list[list[int]]] = {mode: [] for mode in MODES}
    by_words = (
        words_index_of(words, indexed.tolist()) if words is not None and words_depth > 0 else None
    )
    for row in np.asarray(split.query_rows).tolist():
        scores = global_vectors[indexed] @ global_vectors[row]
        order = np.argsort(-scores, kind="stable")
        ranked["global"].append([int(indexed[i]) for i in order[:k]])
        vectors, penalised = query_views[row]
        pair = vectors @ i_vec.T  # (query views, indexed views)
        best = best_per_image(
            np.broadcast_to(i_owner, pair.shape).ravel(), pair.ravel(),
            penalised=np.broadcast_to(penalised[:, None], pair.shape).ravel(),
            part_penalty=part_penalty,
        )  # fmt: skip
        candidates = sorted(best, key=lambda r: (-best[r], r))
        ranked["candidates"].append(candidates[:k])
        words_first = words_ranking(by_words, words[row], row, depth + words_depth) if words else []
        shortlist = to_verify(candidates, words_first, depth, words_depth)
        copies = [target for target in shortlist if verify(row, target)]
        found = set(copies)
        ranked["verified"].append((copies + [r for r in candidates if r not in found])[:k])
    return ranked


def map_at_k(ranked: list[list[int]], labels: np.ndarray, split: Split, k: int) -> float:
    """mAP@k of one split: relevant = the indexed rows of the query's class."""
    indexed = np.asarray(split.index_rows)
    aps = []
    for row, found in zip(np.asarray(split.query_rows).tolist(), ranked, strict=True):
        relevant = {int(r) for r in indexed[labels[indexed] == labels[row]]}
        aps.append(metrics.apk(relevant, found, k))
    return float(np.mean(aps)) if aps else 0.0


def evaluate_split_copies(
    dataset: EvalDataset,
    encoder: Any,
    split_list: list[Split],
    *,
    k: int = 10,
    depth: int = DEPTH,
    words_depth: int = WORDS_DEPTH,
    cache_dir: Path,
    progress: bool = True,
    part_penalty: float = PART_PENALTY,
) -> dict[str, Any]:
    """mAP@k per mode (mean over the splits, and each split's), JSON-ready, with costs."""
    n = len(dataset)
    pictures = [dataset.image(row, min_side=encoder.decode_side) for row in range(n)]
    queried_rows = np.unique(np.concatenate([s.query_rows for s in split_list]))

    cache_file = cache_namer(cache_dir, dataset.cache_key, encoder.name)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    views_key = (encoder.fingerprint, parts.VERSION)
    i_vec, i_owner, i_whole, _ = _cached(
        cache_file(".index.pkl", *views_key, INDEX_PLAN),
        lambda: _encode_views(pictures, INDEX_PLAN, encoder, progress, "index views"),
    )
    subset = [pictures[r] for r in queried_rows.tolist()]
    q_vec, q_owner, _, q_kinds = _cached(
        cache_file(".query.pkl", *views_key, QUERY_PLAN, _rows_key(queried_rows)),
        lambda: _encode_views(subset, QUERY_PLAN, encoder, progress, "query views"),
    )
    timings["encode_views_s"] = time.perf_counter() - started
    started = time.perf_counter()
    features = cached_local_features(pictures, cache_file, progress)
    timings["local_features_s"] = time.perf_counter() - started
    stored = [local.unpack_sets(blob) for blob in features]
    words = [visual_words.words_of(sets) for sets in stored] if words_depth > 0 else None
    asked: dict[int, Any] = {}
    verdicts: dict[tuple[int, int], bool] = {}
    verify_seconds = 0.0

    def verify(row: int, target: int) -> bool:
        nonlocal verify_seconds
        if (row, target) not in verdicts:
            began = time.perf_counter()
            if row not in asked:
                asked[row] = local.query_sets(stored[row])
            verdicts[row, target] = local.best_match(asked[row], stored[target]) is not None
            verify_seconds += time.perf_counter() - began
        return verdicts[row, target]

    global_vectors = i_vec[np.flatnonzero(i_whole)]  # one per row, in row order
    query_rows = queried_rows[q_owner]  # dataset row of each query view
    q_penalised = np.isin(np.asarray(q_kinds), list(PENALISED_VIEWS))
    query_views = {
        int(r): (q_vec[query_rows == r], q_penalised[query_rows == r])
        for r in queried_rows.tolist()
    }
    index_views = (i_vec, np.asarray(i_owner), np.asarray(i_whole))
    per_split: dict[str, list[float]] = {mode: [] for mode in MODES}
    for split in tqdm(split_list, desc="splits", disable=not progress, leave=False):
        ranked = rank_split(
            split,
            global_vectors=global_vectors,
            index_views=index_views,
            query_views=query_views,
            verify=verify,
            k=k,
            depth=depth,
            part_penalty=part_penalty,
            words=words,
            words_depth=words_depth,
        )
        for mode in MODES:
            per_split[mode].append(map_at_k(ranked[mode], dataset.labels, split, k))
    timings["verify_ms_per_pair"] = 1000 * verify_seconds / max(len(verdicts), 1)
    false_copies = sum(
        1
        for (row, target), copy in verdicts.items()
        if copy and dataset.labels[row] != dataset.labels[target]
    )
    return {
        "dataset": {
            "name": dataset.name,
            "key": dataset.cache_key,
            "images": n,
            "queries_per_split": len(split_list[0].query_rows),
            "splits": len(split_list),
        },
        "encoder": encoder.name,
        "encoder_fingerprint": encoder.fingerprint,
        "k": k,
        "depth": depth,
        "words_depth": words_depth,
        "index_plan": str(INDEX_PLAN),
        "query_plan": str(QUERY_PLAN),
        "part_penalty": part_penalty,
        "map": {mode: float(np.mean(values)) for mode, values in per_split.items()},
        "map_per_split": per_split,
        "sizes": {
            "index_views_per_image": len(i_vec) / n,
            "query_views_per_query": len(q_vec) / max(len(queried_rows), 1),
            "local_feature_bytes_per_image": float(np.mean([len(blob) for blob in features])),
        },
        "verified_pairs": len(verdicts),
        "copies_verified": sum(verdicts.values()),
        # verified "copies" of another class (for a class set: look-alikes taken for copies)
        "copies_of_another_class": false_copies,
        "timings": {key: round(v, 3) for key, v in timings.items()},
    }


def split_copies_table(results: dict[str, Any]) -> str:
    k, d = results["k"], results["dataset"]
    lines = [
        f"| mode | mAP@{k} (mean of {d['splits']} splits) | ± (std between splits) |",
        "|---|---|---|",
    ]
    for mode in MODES:
        spread = float(np.std(results["map_per_split"][mode]))
        lines.append(f"| {mode} | {results['map'][mode]:.3f} | {spread:.3f} |")
    caption = (
        f"{d['name']} searched as copy search does: {d['images']} images, "
        f"{d['queries_per_split']} queries per split, {results['encoder']}, "
        f"{results['sizes']['index_views_per_image']:.2f} indexed views per image, "
        f"{results['sizes']['query_views_per_query']:.2f} views per query, verified depth "
        f"{results['depth']} + {results.get('words_depth', 0)} by visual words; "
        f"{results['copies_verified']} of {results['verified_pairs']} "
        f"verified pairs were copies ({results['copies_of_another_class']} of another class)"
    )
    return caption + "\n\n" + "\n".join(lines) + "\n"
