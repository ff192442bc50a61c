"""ScaNN (brute force and tree + AH) against exact numpy on synthetic clustered vectors.

    .venv/bin/python benchmarks/ann.py [--sizes 10000,100000] [--dim 1280] [--queries 1000]

Vectors are a gaussian mixture (unit centres + isotropic noise, then L2-normalised), queries drawn
the same way: uniform random vectors in 1280-d have no structure and would be unrealistically
hard. Everything is compared against exact numpy in the same run, because the machine is shared.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from search.indices import scann_index


def clustered(n: int, dim: int, centres: np.ndarray, rng: np.random.Generator, noise: float):
    out = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 10_000):
        m = min(10_000, n - start)
        part = centres[rng.integers(0, len(centres), m)]
        part += rng.standard_normal((m, dim), dtype=np.float32) * (noise / np.sqrt(dim))
        out[start : start + m] = part / np.linalg.norm(part, axis=1, keepdims=True)
    return out


def exact_topk(db: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    out = np.empty((len(queries), k), dtype=np.int64)
    for start in range(0, len(queries), 100):
        scores = queries[start : start + 100] @ db.T
        top = np.argpartition(-scores, k, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1)
        out[start : start + 100] = np.take_along_axis(top, order, axis=1)
    return out


def exact_single(db: np.ndarray, query: np.ndarray, k: int) -> np.ndarray:
    scores = db @ query
    top = np.argpartition(-scores, k)[:k]
    return top[np.argsort(-scores[top])]


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    k = truth.shape[1]
    return float(np.mean([len(set(a) & set(b)) / k for a, b in zip(found, truth, strict=True)]))


def qps(fn, items) -> float:
    start = time.perf_counter()
    for item in items:
        fn(item)
    return len(items) / (time.perf_counter() - start)


def row(name, build_s, single, batched, rec) -> str:
    return f"| {name} | {build_s:.2f} | {single:,.0f} | {batched:,.0f} | {rec:.3f} |"


def bench_size(n: int, dim: int, n_queries: int, n_single: int, k: int, noise: float, seed: int):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((min(1000, max(10, n // 100)), dim), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    db = clustered(n, dim, centres, rng, noise)
    queries = clustered(n_queries, dim, centres, rng, noise)
    ids = np.arange(n, dtype=np.int64)

    start = time.perf_counter()
    truth = exact_topk(db, queries, k)
    exact_batched = n_queries / (time.perf_counter() - start)
    exact_q = qps(lambda q: exact_single(db, q, k), queries[:n_single])
    lines = [
        f"\n### {n:,} x {dim} (k={k}, {n_queries} queries, {n_single} in the single loop)\n",
        "| method | build s | single q/s | batched q/s | recall@10 |",
        "|---|---|---|---|---|",
        row("exact numpy", 0.0, exact_q, exact_batched, 1.0),
    ]
    print(lines[-1], flush=True)
    tree = scann_index.tree_params(n)
    # The tree CRIER builds, and the one it built before (euclidean k-means from random starts).
    variants = [
        (scann_index.BRUTE_FORCE, n + 1, None, "ScaNN brute force"),
        (
            scann_index.TREE_AH,
            0,
            tree,
            "ScaNN tree+AH ({num_leaves} leaves, search {leaves_to_search}, spherical k-means++)",
        ),
        (
            scann_index.TREE_AH,
            0,
            {**tree, "spherical": False, "kmeans_plus_plus": False},
            "ScaNN tree+AH (same, euclidean k-means, random starts)",
        ),
    ]
    for kind, threshold, params, label in variants:
        start = time.perf_counter()
        searcher = scann_index.build_searcher(db, ann_threshold=threshold, tree=params)
        build_s = time.perf_counter() - start
        index = scann_index.LoadedIndex(searcher, ids, {"dim": dim, "kind": kind})
        single = qps(lambda q, index=index: index.search(q, k), queries[:n_single])
        start = time.perf_counter()
        found, _ = index.search(queries, k)
        batched = n_queries / (time.perf_counter() - start)
        lines.append(row(label.format(**tree), build_s, single, batched, recall(found, truth)))
        print(lines[-1], flush=True)
    return lines, db, queries, centres, rng


def bench_add_one(db: np.ndarray, queries, centres, rng, noise: float, k: int) -> list[str]:
    """Seconds until one new vector is searchable in a live tree+AH index of len(db) vectors."""
    n, dim = db.shape
    new = clustered(1, dim, centres, rng, noise)
    lines = [f"\n### Add one vector to a {n:,}-vector tree+AH index\n"]
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        vectors = np.concatenate([db, new])
        ids = np.arange(n + 1, dtype=np.int64)
        start = time.perf_counter()
        searcher = scann_index.build_searcher(vectors, ann_threshold=0)
        meta = {"dim": dim, "kind": scann_index.TREE_AH}
        scann_index.save_index(base / "rebuilt", searcher, ids, meta)
        index = scann_index.LoadedIndex.load(base / "rebuilt")
        found = index.search(new[0], k)[0][0] == n
        rebuild_s = time.perf_counter() - start
        lines.append(
            f"- rebuild from stored vectors + save + load: {rebuild_s:.1f} s (found: {found})"
        )
        print(lines[-1], flush=True)

        # Incremental: ScaNN's own upsert on a loaded index, then serialize.
        base_searcher = scann_index.build_searcher(db, ann_threshold=0)
        scann_index.save_index(base / "base", base_searcher, ids[:n], meta)
        index = scann_index.LoadedIndex.load(base / "base")
        start = time.perf_counter()
        index.searcher.searcher.upsert([None], new, 1)
        index.record_ids = ids
        found = index.search(new[0], k)[0][0] == n
        upsert_s = time.perf_counter() - start
        scann_index.save_index(base / "upserted", index.searcher, ids, meta)
        upsert_save_s = time.perf_counter() - start
        lines.append(
            f"- ScaNN upsert in memory: {upsert_s * 1000:.1f} ms (found: {found}); "
            f"+ serialize: {upsert_save_s:.1f} s"
        )
        print(lines[-1], flush=True)
        truth = exact_topk(vectors, queries, k)
        after = recall(index.search(queries, k)[0], truth)
        reloaded = scann_index.LoadedIndex.load(base / "upserted")
        lines.append(
            f"- recall@10 after upsert {after:.3f}, after reload "
            f"{recall(reloaded.search(queries, k)[0], truth):.3f}"
        )
        print(lines[-1], flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--dim", type=int, default=1280)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--single", type=int, default=200, help="queries in the single loop")
    parser.add_argument("--noise", type=float, default=1.0, help="noise norm / centre norm")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-add", action="store_true", help="skip the add-one measurement")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    scann_index.build_searcher(np.eye(4, dtype=np.float32), ann_threshold=10)  # import ScaNN/TF
    report = []
    last = None
    for n in sizes:
        lines, *last = bench_size(n, args.dim, args.queries, args.single, 10, args.noise, args.seed)
        report += lines
    if last and not args.no_add:
        report += bench_add_one(*last, noise=args.noise, k=10)
    print("\n".join(report))


if __name__ == "__main__":
    main()
