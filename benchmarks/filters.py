"""What search filters cost: filtered against unfiltered search p50, in one run.

    flock /tmp/crier-heavy.lock .venv/bin/python benchmarks/filters.py \
        [--sizes 10000,100000] [--dim 1280] [--queries 60] [--k 10]

Each corpus holds clustered unit vectors (like benchmarks/ann.py) inserted straight into image
records in bulk, and a real index built from them (brute force below CRIER_ANN_THRESHOLD,
tree + AH above). Tags are written on random records: ``rare`` on 0.5 %, ``some`` on 5 %,
``half`` on 50 %. Every query runs through ``search.services.search_vectors`` (the path of
search by file and more like this, minus the encoder) unfiltered and with each tag filter, in
the same run. Reported per filter: how many images match, the way ``search.queries.filtered`` took
(exact scan of the matching vectors, or over-fetch from the index with the tree leaves it
searched, and how often an over-fetch fell back to the exact scan), p50 / p90 in ms, p50 minus
the unfiltered p50, and recall@k against an exact numpy search of the matching vectors.

With DATABASE_URL set it runs on that database (PostgreSQL, as deployed, with the trigram
indexes of corpora migration 0007; statistics refreshed after the rows are written; the corpus
is deleted afterwards), otherwise on a throw-away SQLite database.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from ann import clustered
from bootstrap import setup_django
from synthetic import store_encoded

TAGS = {"rare": 0.005, "some": 0.05, "half": 0.5}


def tag_records(ids: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Nested random sets (rare ⊂ some ⊂ half), written as tag_text; their masks by tag."""
    from corpora.metadata import tag_text
    from corpora.models import ImageRecord

    order = rng.permutation(len(ids))
    masks = {}
    for tag, share in TAGS.items():
        mask = np.zeros(len(ids), dtype=bool)
        mask[order[: round(len(ids) * share)]] = True
        masks[tag] = mask
    texts = np.array([""] * len(ids), dtype=object)
    for position in range(len(ids)):
        texts[position] = tag_text(tag for tag, mask in masks.items() if mask[position])
    for text in set(texts) - {""}:
        chosen = ids[texts == text].tolist()
        for start in range(0, len(chosen), 10_000):
            ImageRecord.objects.filter(pk__in=chosen[start : start + 10_000]).update(tag_text=text)
    return masks


class Stats:
    """One case's timings (ms), recalls and the ways it went."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.recalls: list[float] = []
        self.leaves: set[int] = set()
        self.fallbacks = 0

    def row(self, n: int, kind: str, name: str, matching: int, way: str, baseline: float) -> str:
        if self.leaves:
            low, high = min(self.leaves), max(self.leaves)
            way += f" ({low}{'' if low == high else f'–{high}'} leaves)"
        if self.fallbacks:
            way += f", {self.fallbacks} exact fallbacks"
        p50, p90 = np.percentile(self.times, [50, 90])
        overhead = "–" if name == "none" else f"{p50 - baseline:+.1f}"
        return (
            f"| {n:,} | {kind} | {name} | {matching:,} | {way} | {p50:.1f} | {p90:.1f} | "
            f"{overhead} | {np.mean(self.recalls):.3f} |"
        )


def drop(corpora) -> None:
    """Delete corpora and their records without loading 100k rows for the cascade (the
    records have no files)."""
    from django.db import connection

    from corpora.models import ImageRecord
    from search.models import ImageVector

    tables = (ImageVector._meta.db_table, ImageRecord._meta.db_table)
    for corpus in corpora:
        with connection.cursor() as cursor:
            for table in tables:
                cursor.execute(f"DELETE FROM {table} WHERE corpus_id = %s", [corpus.pk])
        corpus.delete()
    if connection.vendor == "postgresql":  # as autovacuum would, before the next measurement
        with connection.cursor() as cursor:
            for table in tables:
                cursor.execute(f"VACUUM ANALYZE {table}")


def exact_top(vectors: np.ndarray, mask: np.ndarray, query: np.ndarray, k: int) -> set[int]:
    positions = np.flatnonzero(mask)
    scores = vectors[positions] @ query
    return set(positions[np.argsort(-scores, kind="stable")[:k]].tolist())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--dim", type=int, default=1280)
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument(
        "--exact-scan-max",
        type=int,
        help="override search.queries.filtered.EXACT_SCAN_MAX (to compare)",
    )
    args = parser.parse_args()

    on_postgres = bool(os.environ.get("DATABASE_URL"))
    setup_django(scratch_prefix=None if on_postgres else "crier-bench-filters-")
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection

    from corpora.models import Corpus, ImageRecord
    from search.indices.build import rebuild_index
    from search.queries import filtered
    from search.queries.filters import ImageFilters
    from search.queries.params import Page
    from search.selectors import get_searched_corpus
    from search.services import require_index, search_vectors

    if on_postgres:
        call_command("migrate", verbosity=0)
    if args.exact_scan_max is not None:
        filtered.EXACT_SCAN_MAX = args.exact_scan_max
    fallbacks = {"count": 0}
    exact = filtered.FilteredSearch._exact

    def counting_exact(self, query, n):
        if self.strategy == "overfetch":
            fallbacks["count"] += 1
        return exact(self, query, n)

    filtered.FilteredSearch._exact = counting_exact
    leaves_seen: set[int] = set()
    overfetch = filtered.FilteredSearch._overfetch

    def noting_overfetch(self, query, n):
        found = overfetch(self, query, n)
        if self.leaves_searched:
            leaves_seen.add(self.leaves_searched)
        return found

    filtered.FilteredSearch._overfetch = noting_overfetch

    owner, _ = get_user_model().objects.get_or_create(username="bench-filters")
    rng = np.random.default_rng(0)
    print(
        f"database: {connection.vendor}; {args.queries} queries, k={args.k}, "
        f"dim {args.dim}, EXACT_SCAN_MAX {filtered.EXACT_SCAN_MAX}\n"
    )
    print(
        "| n | index | filter | matching | way | p50 ms | p90 ms | p50 − unfiltered p50 ms "
        "| recall@k |"
    )
    print("|---:|---|---|---:|---|---:|---:|---:|---:|")
    for n in (int(s) for s in args.sizes.split(",")):
        centres = rng.standard_normal((max(100, min(1000, n // 100)), args.dim), dtype=np.float32)
        centres /= np.linalg.norm(centres, axis=1, keepdims=True)
        vectors = clustered(n, args.dim, centres, rng, noise=1.0)
        queries = clustered(args.queries, args.dim, centres, rng, noise=1.0)
        drop(Corpus.objects.filter(owner=owner, name=f"filters-{n}"))
        corpus = Corpus.objects.create(owner=owner, name=f"filters-{n}", encoder="histogram")
        try:
            started = time.perf_counter()
            ids = np.asarray(store_encoded(corpus, vectors, "benchmark"))
            masks = tag_records(ids, rng)
            if on_postgres:  # fresh statistics, as autovacuum keeps them
                with connection.cursor() as cursor:
                    cursor.execute(f"ANALYZE {ImageRecord._meta.db_table}")
            inserted = time.perf_counter() - started
            started = time.perf_counter()
            rebuild_index(corpus=corpus)
            # Loaded as a search request loads it: with its live index version (one query).
            corpus = get_searched_corpus(user=owner, corpus_id=corpus.pk)
            kind = require_index(corpus).meta["kind"]
            built = time.perf_counter() - started
            print(f"<!-- {n:,}: rows {inserted:.0f} s, index {built:.0f} s -->", flush=True)
            cases = [("none", None, np.ones(n, dtype=bool))] + [
                (tag, ImageFilters(tags=(tag,)), masks[tag]) for tag in TAGS
            ]
            stats = {name: Stats() for name, _, _ in cases}
            for _, filters, _ in cases:  # warm-up: the index loaded, the statements planned
                search_vectors(corpus=corpus, query=queries[0], k=args.k, filters=filters)
            # Interleaved (every case for one query, then the next query), so that the load of
            # a shared machine falls on all cases alike.
            for query in queries:
                for name, filters, mask in cases:
                    fallbacks["count"] = 0
                    leaves_seen.clear()
                    started = time.perf_counter()
                    result = search_vectors(
                        corpus=corpus,
                        query=query,
                        page=Page(k=args.k),
                        filters=filters,
                        expansion=0,
                    )
                    stats[name].times.append((time.perf_counter() - started) * 1000)
                    found = set(np.searchsorted(ids, [hit.record_id for hit in result.hits]))
                    truth = exact_top(vectors, mask, query, args.k)
                    stats[name].recalls.append(len(found & truth) / max(1, len(truth)))
                    stats[name].leaves.update(leaves_seen)
                    stats[name].fallbacks += fallbacks["count"]
            baseline = float(np.percentile(stats["none"].times, 50))
            for name, filters, mask in cases:
                way = "index"
                if filters is not None:
                    probe = filtered.FilteredSearch(
                        corpus=corpus, index=require_index(corpus), filters=filters
                    )
                    way = "exact" if probe.prefers_exact(args.k + 1) else "overfetch"
                print(stats[name].row(n, kind, name, int(mask.sum()), way, baseline), flush=True)
        finally:
            drop([corpus])


if __name__ == "__main__":
    main()
