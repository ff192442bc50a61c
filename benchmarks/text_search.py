"""Text search latency (``search.text.ranking.text_search``) on synthetic corpora of 10k and
100k images.

Each record gets five ImageNet labels (random classes, Dirichlet probabilities, stored as the
encoding job stores them) and 0–3 tags from a 200-word vocabulary. Queries: a very common word
("dog": the 118 dog breeds carry it, so ~45 % of the images match), a rare label ("sandal",
~0.5 %), a tag word (~1.5 %), two words across fields ("dog" + a tag), and a word nothing has.
p50 / p95 of 30 calls each (after one warm-up), first page of 10 hits.

    DATABASE_URL=postgres://... python benchmarks/text_search.py [--sizes 10000,100000]
    python benchmarks/text_search.py --sqlite      # a scratch SQLite database instead

The rows are written to a corpus of their own, committed (so PostgreSQL's GIN index is in its
steady state, not a pending list), VACUUM ANALYZEd, and deleted at the end.
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np
from bootstrap import setup_django, timed_runs
from synthetic import store_vectors, synthetic_record

TAGS = [f"tag{i:03d}" for i in range(200)]


def labelled_rows(corpus, start: int, n: int, rng: np.random.Generator) -> tuple[list, list]:
    """(unsaved records, their labels)."""
    from corpora.metadata import tag_text
    from search.encoders.labels import describe_label, imagenet_label

    rows, all_labels = [], []
    for i in range(start, start + n):
        classes = rng.choice(1000, size=5, replace=False)
        probabilities = np.sort(rng.dirichlet(np.full(6, 0.5)))[::-1][:5]
        labels = [
            describe_label(imagenet_label(int(c)), float(p))
            for c, p in zip(classes, probabilities, strict=True)
        ]
        tags = list(rng.choice(TAGS, size=int(rng.integers(0, 4)), replace=False))
        rows.append(
            synthetic_record(corpus, i, status="encoded", tags=tags, tag_text=tag_text(tags))
        )
        all_labels.append(labels)
    return rows, all_labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--sqlite", action="store_true", help="a scratch SQLite database")
    args = parser.parse_args()
    setup_django(scratch_prefix="crier-text-bench-" if args.sqlite else None)

    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from corpora.models import Corpus, ImageRecord
    from search.queries.params import Page
    from search.text.ranking import text_search

    owner, _ = get_user_model().objects.get_or_create(
        username="crier-text-benchmark", defaults={"is_active": False}
    )
    rng = np.random.default_rng(0)
    print(f"database: {connection.vendor}")
    print("| images | query | hits | p50 ms | p95 ms |")
    print("|---|---|---|---|---|")
    for size in [int(s) for s in args.sizes.split(",")]:
        Corpus.objects.filter(owner=owner).delete()
        corpus = Corpus.objects.create(owner=owner, name=f"text-{size}", encoder="none")
        for start in range(0, size, 5000):
            with transaction.atomic():
                rows, labels = labelled_rows(corpus, start, min(5000, size - start), rng)
                records = ImageRecord.objects.bulk_create(rows, batch_size=1000)
                store_vectors(corpus, records, [None] * len(records), "benchmark", labels)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE corpora_imagerecord")
                cursor.execute("VACUUM ANALYZE search_imagevector")
        corpora = Corpus.objects.filter(pk=corpus.pk)

        def search(q: str, corpora=corpora) -> object:
            return text_search(corpora=corpora, q=q, page=Page(k=10))

        common_tag = TAGS[7]
        for q in ["dog", "sandal", common_tag, f"dog {common_tag}", "zeppelinx"]:
            count = _matches(corpora, q)
            times = timed_runs(lambda q=q: search(q), args.repeats)
            p50 = statistics.median(times) * 1000
            p95 = float(np.percentile(times, 95)) * 1000
            print(f"| {size:,} | {q} | {count:,} | {p50:.1f} | {p95:.1f} |", flush=True)
        Corpus.objects.filter(owner=owner).delete()
    owner.delete()


def _matches(corpora, q: str) -> int:
    """How many images match ``q``: the whole ranking, uncut (the service stops at 1000)."""
    from corpora.models import ImageRecord
    from search.text import ranking

    words = ranking.query_words(q)
    if ranking.ranks_in_database():
        searched = ranking._Searched.of(corpora, None)
        assert searched is not None
        scope = ranking._scope(words, searched)
        return len(ranking._rank_in_postgres(searched, scope, 10**9).ranked)
    records = ImageRecord.objects.filter(corpus__in=corpora)
    return len(ranking._rank_here(records, words, 10**9).ranked)


if __name__ == "__main__":
    main()
