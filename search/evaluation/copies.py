"""``manage.py evaluate --dataset copies``: AP@k per version of the copy-detection set
(``copies_set``) for three ways of searching, side by side:

- **global**: one vector per image, whole query against whole images (what ``main`` did);
- **candidates**: every view of the query (``candidates.QUERY_PLAN``) against every indexed view
  (``candidates.INDEX_PLAN``), an image scoring its best pair;
- **verified**: the first ``depth`` candidates checked with local features
  (``search.copies.local``): verified copies first, then the rest, each in candidate order.

Protocol: leave-one-out over every version of every target (a query's relevant items are the
other versions of its target); distractors are indexed, never queries.
"""

from __future__ import annotations

import hashlib
import pickle
import time
from collections.abc import Callable
from dataclasses import dataclass
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
    ViewPlan,
    best_per_image,
    to_verify,
)
from search.copies.matching import same_picture
from search.copies.words_index import WordsIndex
from search.copies.words_index import build as build_words_index
from search.evaluation import metrics
from search.evaluation.copies_set import DISTRACTOR, CopyItem, CopySet

MODES = ("global", "candidates", "verified")
DEPTH = 20  # the CNN's candidates verified per query (the service's CRIER_COPY_VERIFY_DEPTH)
# and the visual words' first candidates not among them (CRIER_COPY_WORDS_DEPTH)
WORDS_DEPTH = 10


def words_index_of(words: list[list[np.ndarray]], rows) -> WordsIndex:
    """The visual words index of these rows' feature sets' ``words`` (image ids = rows)."""
    return build_words_index(
        ((int(row), words[row]) for row in sorted(rows)), visual_words.vocabulary().size
    )


def words_ranking(index: WordsIndex | None, query: list[np.ndarray], row: int, n: int):
    """The first ``n`` rows by visual words for a query (its sets' words; row ``row``, left
    out)."""
    if index is None or n <= 0:
        return []
    return [r for r in index.search(query, n + 1) if r != row][:n]


def _encode_views(pictures, plan: ViewPlan, encoder, progress: bool, desc: str):
    """(vectors (n_views, dim), owners (n_views,), whole (n_views,) bool, kinds)."""
    vectors, owners, whole, kinds = [], [], [], []
    batch: list[np.ndarray] = []

    def flush() -> None:
        if batch:
            vectors.append(encoder.encode_batch(np.stack(batch)))
            batch.clear()

    for row, picture in enumerate(tqdm(pictures, desc=desc, disable=not progress, leave=False)):
        for view in plan.views(picture):
            batch.append(encoder.preprocess(view.render(picture)))
            owners.append(row)
            whole.append(view.kind == "whole")
            kinds.append(view.kind)
            if len(batch) >= encoder.batch_size:
                flush()
    flush()
    return np.concatenate(vectors), np.asarray(owners), np.asarray(whole), kinds


def _cached(path: Path, build):
    if path.is_file():
        with open(path, "rb") as handle:
            return pickle.load(handle)
    value = build()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        pickle.dump(value, handle)
    return value


def cache_namer(cache_dir: Path, set_key: str, encoder_name: str) -> Callable[..., Path]:
    """``name(suffix, *key)``: the cache file of one set, encoder and key (hashed)."""

    def name(suffix: str, *parts_of_key: object) -> Path:
        digest = hashlib.sha1("\0".join(map(str, parts_of_key)).encode()).hexdigest()[:16]
        return Path(cache_dir) / f"{set_key}--{encoder_name}--{digest}{suffix}"

    return name


def cached_local_features(
    pictures: list, cache_file: Callable[..., Path], progress: bool
) -> list[bytes]:
    """Each picture's packed local feature sets (whole and picture boxes), cached per feature
    version."""
    local_key = (
        local.FORMAT, local.MAX_KEYPOINTS, local.SIDE, local.BOX_SIDE, local.CONTRAST_THRESHOLD,
        local.MAX_FEATURE_BOXES, parts.VERSION,
    )  # fmt: skip
    return _cached(cache_file(".local.pkl", *local_key), lambda: [
        local.pack_sets(local.extract_sets(p, parts.picture_boxes(p)))
        for p in tqdm(pictures, desc="local features", disable=not progress, leave=False)
    ])  # fmt: skip


def _ap_rows(ranked: list[list[int]], labels: np.ndarray, rows: list[int], k: int) -> np.ndarray:
    aps = []
    for row, found in zip(rows, ranked, strict=True):
        relevant = {int(r) for r in np.flatnonzero(labels == labels[row]) if r != row}
        aps.append(metrics.apk(relevant, found, k))
    return np.asarray(aps)


def evaluate_copies(
    copies: CopySet,
    encoder: Any,
    *,
    k: int = 8,
    depth: int = DEPTH,
    words_depth: int = WORDS_DEPTH,
    cache_dir: Path,
    index_plan: ViewPlan = INDEX_PLAN,
    query_plan: ViewPlan = QUERY_PLAN,
    part_penalty: float = PART_PENALTY,
    through_copies: bool = True,
    progress: bool = True,
) -> dict[str, Any]:
    """AP@k per version and mAP@k for each mode; JSON-ready, with costs."""
    n = len(copies.items)
    labels = np.asarray(
        [
            item.target if item.version != DISTRACTOR else -1 - r
            for r, item in enumerate(copies.items)
        ]
    )
    pictures = [copies.render(r) for r in range(n)]

    cache_file = cache_namer(cache_dir, copies.key, encoder.name)
    timings: dict[str, float] = {}

    started = time.perf_counter()
    views_key = (encoder.fingerprint, parts.VERSION)
    indexed = _cached(cache_file(".index.pkl", *views_key, index_plan), lambda: _encode_views(
        pictures, index_plan, encoder, progress, "index views"))  # fmt: skip
    queried = _cached(cache_file(".query.pkl", *views_key, query_plan), lambda: _encode_views(
        pictures, query_plan, encoder, progress, "query views"))  # fmt: skip
    timings["encode_views_s"] = time.perf_counter() - started
    started = time.perf_counter()
    features = cached_local_features(pictures, cache_file, progress)
    timings["local_features_s"] = time.perf_counter() - started
    stored = [local.unpack_sets(blob) for blob in features]
    asked = [local.query_sets(sets) for sets in stored]
    started = time.perf_counter()
    words = [visual_words.words_of(sets) for sets in stored]
    by_words = words_index_of(words, range(n)) if words_depth > 0 else None
    timings["words_index_s"] = time.perf_counter() - started

    i_vec, i_owner, i_whole, _ = indexed
    q_vec, q_owner, _, q_kinds = queried
    q_penalised = np.isin(np.asarray(q_kinds), list(PENALISED_VIEWS))
    whole_rows = np.flatnonzero(i_whole)
    global_vectors = i_vec[whole_rows]  # one per image, in row order
    queries = [r for r, item in enumerate(copies.items) if item.version != DISTRACTOR]

    ranked: dict[str, list[list[int]]] = {mode: [] for mode in MODES}
    verify_seconds, verified_pairs, reached = 0.0, 0, 0
    false_copies: list[tuple[int, int]] = []
    misses: list[tuple[str, str, int]] = []  # (query version, unverified version, candidate rank)
    for row in queries:
        scores = global_vectors @ global_vectors[row]
        order = [int(r) for r in np.argsort(-scores, kind="stable") if r != row]
        ranked["global"].append(order[:k])
        q_rows = np.flatnonzero(q_owner == row)
        pair = q_vec[q_rows] @ i_vec.T  # (query views, index views)
        penalised = np.broadcast_to(q_penalised[q_rows][:, None], pair.shape)
        best = best_per_image(
            np.broadcast_to(i_owner, pair.shape).ravel(), pair.ravel(),
            penalised=penalised.ravel(), part_penalty=part_penalty,
        )  # fmt: skip
        best.pop(row, None)
        candidates = sorted(best, key=lambda r: (-best[r], r))
        ranked["candidates"].append(candidates[:k])
        words_first = words_ranking(by_words, words[row], row, depth + words_depth)
        shortlist = to_verify(candidates, words_first, depth, words_depth)
        started = time.perf_counter()
        direct = {}
        for target in shortlist:
            match = local.best_match(asked[row], stored[target])
            if match is not None:
                direct[target] = match
        pivot = same_picture(direct) if through_copies else None
        if pivot is not None:  # copies of a copy: as matching.verify_targets
            rest = [target for target in shortlist if target not in direct]
            for target in rest:
                if local.best_match(asked[pivot], stored[target]) is not None:
                    direct[target] = direct[pivot]
            verified_pairs += len(rest)
        copies_found = [t for t in shortlist if t in direct]
        for target in copies_found:
            if labels[target] != labels[row]:
                false_copies.append((row, target))
        verify_seconds += time.perf_counter() - started
        verified_pairs += len(shortlist)
        relevant = set(np.flatnonzero(labels == labels[row]).tolist()) - {row}
        reached += len(relevant & set(shortlist))
        found = set(copies_found)
        ranked["verified"].append((copies_found + [r for r in candidates if r not in found])[:k])
        for missed in sorted(set(np.flatnonzero(labels == labels[row]).tolist()) - found - {row}):
            rank = candidates.index(missed) if missed in candidates else -1
            misses.append((copies.items[row].version, copies.items[missed].version, rank))

    versions = [copies.items[r].version for r in queries]
    kinds = list(dict.fromkeys(versions))  # in the set's order
    table: dict[str, dict[str, float]] = {}
    for mode in MODES:
        aps = _ap_rows(ranked[mode], labels, queries, k)
        table[mode] = {v: float(aps[[x == v for x in versions]].mean()) for v in kinds}
        table[mode]["all"] = float(aps.mean())
    timings["verify_ms_per_pair"] = 1000 * verify_seconds / max(verified_pairs, 1)
    sizes_words = {
        "verified_per_query": verified_pairs / max(len(queries), 1),
        # relevant items among the verified candidates, in all
        "relevant_verified_candidates": reached,
    }
    sizes = {
        "index_views_per_image": len(i_vec) / n,
        "query_views_per_image": len(q_vec) / n,
        "local_feature_bytes_per_image": float(np.mean([len(blob) for blob in features])),
        **sizes_words,
    }
    return {
        "dataset": {
            "name": copies.name, "key": copies.key,
            "seed": copies.seed, "versions": kinds,
            "targets": [p.name for p in copies.targets], "images": n, "queries": len(queries),
        },
        "encoder": encoder.name,
        "encoder_fingerprint": encoder.fingerprint,
        "k": k,
        "depth": depth,
        "words_depth": words_depth,
        "index_plan": str(index_plan),
        "query_plan": str(query_plan),
        "part_penalty": part_penalty,
        "ap": table,
        "sizes": sizes,
        "timings": {key: round(v, 3) for key, v in timings.items()},
        # verified pairs that are not versions of one target (query row, found row)
        "false_copies": false_copies,
        # relevant items not verified: (query version, its version, rank among candidates)
        "unverified": misses,
    }  # fmt: skip


def copies_table(results: dict[str, Any]) -> str:
    k = results["k"]
    header = ["version"] + [f"{mode} AP@{k}" for mode in MODES]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for version in [*results["dataset"]["versions"], "all"]:
        label = f"**all (mAP@{k})**" if version == "all" else version
        cells = [f"{results['ap'][mode][version]:.3f}" for mode in MODES]
        lines.append("| " + " | ".join([label, *cells]) + " |")
    d = results["dataset"]
    caption = (
        f"{d['name']} (seed {d['seed']}): {d['images']} images, {d['queries']} queries, "
        f"{results['encoder']}, {results['sizes']['index_views_per_image']:.2f} indexed views "
        f"and {results['sizes']['query_views_per_image']:.2f} query views per image, "
        f"verified: the first {results['depth']} candidates and the visual words' first "
        f"{results.get('words_depth', 0)} not among them "
        f"({results['sizes'].get('verified_per_query', 0):.1f} a query, "
        f"{results['sizes'].get('relevant_verified_candidates', 0)} relevant among them)"
    )
    caption += f"; {len(results['false_copies'])} false copies verified"
    return caption + "\n\n" + "\n".join(lines) + "\n"


@dataclass(frozen=True)
class NearDuplicateCopies:
    """The near-duplicates set (docs/evaluation.md) as a copy set: each photo is a target, its
    7 edits the versions; no distractors. What ``evaluate --dataset near-duplicates --copies``
    runs, so the set's mAP can be read for copy search too."""

    name: str
    key: str
    seed: int
    targets: list[Path]
    items: list[CopyItem]

    def render(self, row: int):
        from search.evaluation import near_duplicates

        item = self.items[row]
        edit = near_duplicates.EDITS[
            [e.__name__ for e in near_duplicates.EDITS].index(item.version)
        ]
        return near_duplicates.render(self.targets[item.target], edit)


def near_duplicate_copies() -> NearDuplicateCopies:
    from search.evaluation import near_duplicates

    photos = near_duplicates.find_photos()
    items = [
        CopyItem(target=t, version=edit.__name__, seed=(0,))
        for t in range(len(photos))
        for edit in near_duplicates.EDITS
    ]
    key = f"near-duplicates-{near_duplicates.VERSION}-{len(photos)}x{len(near_duplicates.EDITS)}"
    return NearDuplicateCopies("near-duplicates", key, 0, photos, items)
