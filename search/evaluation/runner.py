"""Run an evaluation: split, encode (cached), search each index type, score every k = 1..K."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from search.evaluation import indices, metrics, postprocess, splits
from search.evaluation.datasets import LEAVE_ONE_OUT, EvalDataset
from search.evaluation.vectors import cached_vectors


def make_split(dataset: EvalDataset, *, seed: int) -> splits.Split:
    if dataset.protocol == LEAVE_ONE_OUT:
        return splits.leave_one_out(len(dataset))
    return splits.class_split(dataset.labels, seed=seed)


def _drop_self(found: np.ndarray, query_rows: np.ndarray, k: int) -> np.ndarray:
    """Remove each query's own row from its results (stable), keep the first k."""
    is_self = found == query_rows[:, None]
    order = np.argsort(is_self, axis=1, kind="stable")
    kept = np.take_along_axis(found, order, axis=1)[:, :k]
    return np.where(np.take_along_axis(is_self, order, axis=1)[:, :k], -1, kept)


def score(
    found: np.ndarray, labels: np.ndarray, split: splits.Split, k: int
) -> dict[str, list[float]]:
    """Metric curves for k = 1..K from the dataset rows each query retrieved."""
    query_labels = labels[split.query_rows][:, None]
    is_relevant = (found >= 0) & (labels[np.maximum(found, 0)] == query_labels)
    rel = metrics.relevance_matrix(found, is_relevant, k)
    curves = metrics.curves(rel, splits.relevant_counts(labels, split))
    return {name: [float(v) for v in values] for name, values in curves.items()}


def evaluate_vectors(
    index_vectors: np.ndarray, query_vectors: np.ndarray, labels: np.ndarray,
    split: splits.Split, *, index: str, k: int,
    ann_threshold: int = 0,
) -> tuple[dict[str, list[float]], str, float]:  # fmt: skip
    """(curves, index configuration, search seconds) for one split's vectors and one index.

    ``index_vectors`` are the rows ``split.index_rows``, ``query_vectors`` ``split.query_rows``.
    """
    ids = split.index_rows
    extra = 1 if split.queries_indexed else 0
    started = time.perf_counter()
    found, config = indices.search(
        index, index_vectors, ids, query_vectors, k + extra,
        ann_threshold=ann_threshold,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    if found.shape[1] < k + extra:  # fewer indexed vectors than asked for
        pad = np.full((len(found), k + extra - found.shape[1]), -1, dtype=np.int64)
        found = np.concatenate([found, pad], axis=1)
    found = _drop_self(found, split.query_rows, k) if extra else found[:, :k]
    return score(found, labels, split, k), config, seconds


def _mean_curves(per_split: list[dict[str, list[float]]]) -> dict[str, list[float]]:
    return {
        name: [float(v) for v in np.mean([c[name] for c in per_split], axis=0)]
        for name in per_split[0]
    }


def run_evaluation(
    dataset: EvalDataset,
    *,
    encoders: Sequence[str],
    index_kinds: Sequence[str],
    k: int,
    seed: int,
    cache_dir: Path,
    repeats: int = 1,
    postprocessing: Sequence[str] = (postprocess.NONE,),
    ann_threshold: int = 0,
    progress: bool = True,
    get_encoder: Callable[[str], Any] | None = None,
) -> dict[str, Any]:
    """Every (encoder, post-processing, index) combination; JSON-ready.

    With ``repeats`` > 1 a class split is drawn with seeds ``seed``, ``seed + 1``, ... and the
    curves are averaged (each split has the same number of queries); ``map_std`` is the spread
    of mAP@k between splits. Leave-one-out has a single split.
    """
    if get_encoder is None:
        from search.encoders import get_encoder
    seeds = [seed] if dataset.protocol == LEAVE_ONE_OUT else [seed + r for r in range(repeats)]
    split_list = [make_split(dataset, seed=s) for s in seeds]
    runs: list[dict[str, Any]] = []
    for name in encoders:
        encoder = get_encoder(name)
        started = time.perf_counter()
        vectors, cached = cached_vectors(dataset, encoder, cache_dir=cache_dir, progress=progress)
        encode_seconds = time.perf_counter() - started
        for post in postprocessing:
            for index in index_kinds:
                per_split, search_seconds = [], 0.0
                for split in split_list:
                    index_vectors, query_vectors = postprocess.apply(
                        post, vectors[split.index_rows], vectors[split.query_rows]
                    )
                    curves, config, seconds = evaluate_vectors(
                        index_vectors, query_vectors, dataset.labels, split, index=index, k=k,
                        ann_threshold=ann_threshold,
                    )  # fmt: skip
                    per_split.append(curves)
                    search_seconds += seconds
                runs.append({
                    "encoder": encoder.name,
                    "encoder_fingerprint": encoder.fingerprint,
                    "dim": int(encoder.dim),
                    "postprocess": post,
                    "index": index,
                    "index_config": config,
                    "vectors_cached": cached,
                    "encode_seconds": round(encode_seconds, 3),
                    "search_seconds": round(search_seconds, 3),
                    "metrics": _mean_curves(per_split),
                    "map_std": [float(v) for v in np.std([c["map"] for c in per_split], axis=0)],
                })  # fmt: skip
    return {
        "dataset": {
            "name": dataset.name,
            "cache_key": dataset.cache_key,
            "images": len(dataset),
            "classes": len(np.unique(dataset.labels)),
            "protocol": dataset.protocol,
            "indexed": len(split_list[0].index_rows),
            "queries": len(split_list[0].query_rows),
            "seeds": seeds,
        },
        "k": k,
        "runs": runs,
    }
