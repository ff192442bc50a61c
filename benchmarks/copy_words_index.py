"""The visual words index's size and speed at 10k and 100k images (docs/benchmarks.md "Copy
search: the visual words index").

    .venv/bin/python benchmarks/copy_words_index.py [--sizes 10000 100000] [--queries 50]

Every image borrows the feature sets' words of one of the copy-detection set's 160 pictures
(docs/copies.md; its plain photos have one set, its composites up to three), so the postings
are as dense as a real corpus's. Reported: sets, postings, the index's bytes
(``WordsIndex.nbytes``), the time to build it from the rows (what a process does on its first
search after a change, less reading the rows from the database), and p50 / p90 of a query with
the words of one picture (its one to three sets) as more like this and search by file ask it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
from bootstrap import setup_django


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=50)
    args = parser.parse_args()
    setup_django()
    from search.copies import local, parts
    from search.copies import words as visual_words
    from search.copies.words_index import build
    from search.evaluation.copies_set import copy_set

    copies = copy_set()
    words = []
    for row in range(len(copies.items)):
        picture = copies.render(row)
        words.append(
            visual_words.words_of(local.extract_sets(picture, parts.picture_boxes(picture)))
        )
    size = visual_words.vocabulary().size
    rng = np.random.default_rng(0)
    print(f"load average {os.getloadavg()[0]:.1f}; vocabulary {size} words")
    print("| images | sets | postings | index MiB | build s | query p50 ms | query p90 ms |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for images in args.sizes:
        borrowed = rng.integers(0, len(words), images)
        started = time.perf_counter()
        index = build(((i, words[b]) for i, b in enumerate(borrowed.tolist())), size)
        build_s = time.perf_counter() - started
        times = []
        for q in rng.integers(0, len(words), args.queries).tolist():
            started = time.perf_counter()
            index.search(words[q], 40)
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        print(
            f"| {images:,} | {len(index.owners):,} | {len(index.postings):,} "
            f"| {index.nbytes / 2**20:.1f} | {build_s:.1f} | {statistics.median(times):.1f} "
            f"| {times[int(0.9 * (len(times) - 1))]:.1f} |"
        )


if __name__ == "__main__":
    main()
