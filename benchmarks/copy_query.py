"""Where one search by a 1-MP file goes with copy search on (docs/benchmarks.md "Copy search"):
each stage of ``services.search_image`` timed apart, in one thread, on the corpus of
``benchmarks/copies.py``.

    .venv/bin/python benchmarks/copy_query.py [--size 10000] [--queries 30] [--repeats 1]

Stages, run one after another as the service runs them (the service finds the local features
in a worker thread beside the encoder; here they are timed alone): decode (the upload gate at
the encoder's scale), picture boxes, local features (``extract_sets``), view pixels (crops,
resizes, scaling), encoder (a call per view as served; all views in one LiteRT call for
comparison), the search of the views (ScaNN + parts index + the hits' rows), reading the
features of the hits verified (the first ``CRIER_COPY_VERIFY_DEPTH`` of the views' ranking)
and their verification (in one thread, and split over two). ``full``:
``services.search_image`` end to end, as served (threads included). p50 wall and CPU ms of
each, over the copy set's pictures as 1-MP JPEGs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections import defaultdict
from dataclasses import replace

import numpy as np
from bootstrap import setup_django


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    setup_django(scratch_prefix="crier-bench-copy-query-")
    from copies import build

    bench = build(args.size)
    rng = np.random.default_rng(0)
    chosen = rng.choice(len(bench.files), min(args.queries, len(bench.files)), replace=False)
    stages(bench, int(chosen[0]))  # warm-up
    times: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for _ in range(args.repeats):
        for n in chosen.tolist():
            for name, value in stages(bench, n).items():
                times[name].append(value)
    print(f"corpus {args.size} images; {len(chosen)} queries x {args.repeats}")
    print("| stage | p50 ms | p50 CPU ms | mean ms |")
    print("|---|---:|---:|---:|")
    for name, values in times.items():
        wall = [v[0] for v in values]
        cpu = [v[1] for v in values]
        print(
            f"| {name} | {statistics.median(wall):.1f} | {statistics.median(cpu):.1f} "
            f"| {statistics.fmean(wall):.1f} |"
        )
    print(f"load average {os.getloadavg()[0]:.1f}")


_batch_runners: dict = {}


class _Clock:
    def __init__(self) -> None:
        self.times: dict[str, tuple[float, float]] = {}

    def __call__(self, name: str, call, *args, **kwargs):
        started, cpu = time.perf_counter(), time.process_time()
        value = call(*args, **kwargs)
        self.times[name] = (
            (time.perf_counter() - started) * 1000,
            (time.process_time() - cpu) * 1000,
        )
        return value


def stages(bench, n: int) -> dict[str, tuple[float, float]]:
    """(wall ms, CPU ms) of each stage of one search by ``bench.files[n]``."""
    from django.conf import settings

    from search import encoders, services
    from search.copies import store
    from search.copies.candidates import PENALISED_VIEWS, QUERY_PLAN
    from search.copies.local import extract_sets
    from search.copies.matching import verify_targets
    from search.copies.parts import picture_boxes
    from search.encoding.preprocessing import decode_side, open_image
    from search.queries.params import Page

    settings.CRIER_COPY_SEARCH = True
    clock = _Clock()
    corpus = bench.corpus
    index = services.require_index(corpus)
    encoder = encoders.get_encoder(services._served_encoder(index))
    min_side = decode_side(encoder.input_size, encoder.crop_fraction)
    picture = clock("decode", open_image, bench.files[n], min_side=min_side)
    boxes = clock("picture boxes", picture_boxes, picture)
    features = clock("local features", extract_sets, picture, boxes)
    views = QUERY_PLAN.views(picture, boxes=boxes)
    batch = clock(
        "view pixels",
        lambda: np.stack([encoder.preprocess(view.render(picture)) for view in views]),
    )
    vectors = clock("encoder, a call per view", encoder.encode_batch, batch)
    if hasattr(encoder, "_new_runner"):  # LiteRT: every view in one interpreter call
        runner = _batch_runners.setdefault(encoder.name, encoder._new_runner())
        clock("encoder, one call for all views", runner, images=batch)
    penalised = np.asarray([view.kind in PENALISED_VIEWS for view in views[1:]], dtype=bool)
    copies = services.CopyQuery(views=vectors[1:], features=[], penalised=penalised)
    clock("search views", services._search, corpus, index, vectors[0], Page(k=10), copies=copies)
    # The first CRIER_COPY_VERIFY_DEPTH of the views' ranking (the visual words' extra
    # candidates, verified too when the corpus has words, are not timed here).
    depth = settings.CRIER_COPY_VERIFY_DEPTH
    ranked = services._search(corpus, index, vectors[0], Page(k=depth), copies=copies)
    head = [hit.record_id for hit in ranked.hits[:depth]]
    stored = clock("read features", store.features_of, head)
    # Fresh objects for each (no descriptor matrices cached by the other), in turn first.
    ways = [
        ("verify, one thread", None),
        ("verify, two threads", services._features_pool),
    ]
    for name, pool in ways[:: 1 if n % 2 else -1]:
        fresh = {i: [replace(s) for s in sets] for i, sets in stored.items()}
        clock(name, verify_targets, [replace(s) for s in features], fresh, pool=pool)
    clock("full", services.search_image, corpus=corpus, image=bench.files[n], k=10)
    return clock.times


if __name__ == "__main__":
    main()
