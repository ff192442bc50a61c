"""Near-duplicate search over a whole corpus (`search.copies.duplicates.find_duplicates`) against an
exact all-pairs numpy scan of the same vectors, in one run.

    .venv/bin/python benchmarks/duplicates.py [--sizes 20000,100000] [--dim 1280]

Each corpus holds clustered unit vectors (like benchmarks/ann.py) in which 1 % of the vectors
have a planted near-copy (cosine ~0.95). Runs in a throw-away data dir with its own SQLite
database. Below CRIER_ANN_THRESHOLD (20k) the index is exact brute force; at 100k it is
tree + AH. Reported: seconds for find_duplicates (reading the vectors from the database
included) and for the exact scan, and the share of the exact scan's pairs that were found.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from bootstrap import setup_django
from synthetic import store_encoded

THRESHOLD = 0.9


def vectors_with_copies(n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    originals = n - n // 100
    centres = rng.standard_normal((1000, dim), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    x = centres[rng.integers(0, len(centres), originals)]
    x += rng.standard_normal((originals, dim), dtype=np.float32) / np.sqrt(dim)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    sources = rng.choice(originals, n - originals, replace=False)
    copies = x[sources] + rng.standard_normal((len(sources), dim), dtype=np.float32) * (
        0.3 / np.sqrt(dim)
    )
    copies /= np.linalg.norm(copies, axis=1, keepdims=True)
    return np.concatenate([x, copies]).astype(np.float32)


def exact_pairs(vectors: np.ndarray, threshold: float) -> set[tuple[int, int]]:
    pairs = set()
    for start in range(0, len(vectors), 2000):
        scores = vectors[start : start + 2000] @ vectors.T
        rows, cols = np.nonzero(scores >= threshold)
        pairs.update(
            (start + r, c)
            for r, c in zip(rows.tolist(), cols.tolist(), strict=True)
            if start + r < c
        )
    return pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20000,100000")
    parser.add_argument("--dim", type=int, default=1280)
    args = parser.parse_args()

    setup_django(scratch_prefix="crier-bench-dups-")
    from django.contrib.auth import get_user_model

    from corpora.models import Corpus
    from search.copies.duplicates import find_duplicates
    from search.indices.build import rebuild_index
    from search.services import require_index

    owner = get_user_model().objects.create_user("bench")
    rng = np.random.default_rng(0)
    print("| n × dim | index | find_duplicates s | exact all-pairs s | pairs (exact) | found |")
    print("|---|---|---:|---:|---:|---:|")
    for n in (int(s) for s in args.sizes.split(",")):
        vectors = vectors_with_copies(n, args.dim, rng)
        corpus = Corpus.objects.create(owner=owner, name=f"dups-{n}", encoder="histogram")
        ids = np.asarray(store_encoded(corpus, vectors, "benchmark"))
        rebuild_index(corpus=corpus)
        corpus.refresh_from_db()

        started = time.perf_counter()
        report = find_duplicates(corpus=corpus, threshold=THRESHOLD)
        seconds = time.perf_counter() - started
        started = time.perf_counter()
        truth = exact_pairs(vectors, THRESHOLD)
        exact_seconds = time.perf_counter() - started

        group_of = {pk: i for i, group in enumerate(report.groups) for pk in group.record_ids}
        found = sum(
            1
            for a, b in truth
            if group_of.get(ids[a]) is not None and group_of.get(ids[a]) == group_of.get(ids[b])
        )
        kind = require_index(corpus).meta["kind"]
        print(
            f"| {n:,} × {args.dim} | {kind} | {seconds:.1f} | {exact_seconds:.1f} | "
            f"{len(truth):,} | {found / max(len(truth), 1):.3f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
