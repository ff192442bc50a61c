"""Copy search's cost at query time, against one-vector search, in one run (docs/benchmarks.md
"Copy search").

    .venv/bin/python benchmarks/copies.py [--size 10000] [--queries 30]

A throw-away corpus (own data dir, SQLite) of ``--size`` images: the 160 pictures of the
copy-detection set (docs/copies.md) encoded with EfficientNet-Lite0 and described for copy
search (local features, picture boxes and their vectors, exactly as the encoding job stores
them), plus synthetic images filling it up: vectors near real ones (so they crowd the top of
every ranking) and copy data borrowed from a real picture (so every verified candidate costs
what a real one costs). Then, interleaved query by query with ``CRIER_COPY_SEARCH`` on and off:

- more like this (``services.search_similar``, k=10) of the real pictures;
- search by file (``services.search_image``, k=10) with each picture as a 1-MP JPEG
  (1155×866), decoded, encoded (with its views), searched and verified.

p50/p90 of each (and the p50 of the process's CPU time), the bytes stored per image, the time to
describe one stored picture and to build the index.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import time
from dataclasses import dataclass

import numpy as np
from bootstrap import setup_django


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=30)
    args = parser.parse_args()
    setup_django(scratch_prefix="crier-bench-copies-")
    bench = build(args.size)
    timings = interleaved(bench, args.queries)
    print(
        f"corpus {args.size} images; {len(next(iter(timings.values())))} queries each, "
        "interleaved on/off"
    )
    print("| query | copy search | p50 ms | p90 ms | p50 CPU ms |")
    print("|---|---|---:|---:|---:|")
    for (kind, on), values in timings.items():
        wall = sorted(v[0] for v in values)
        p90 = wall[min(len(wall) - 1, int(0.9 * len(wall)))]
        cpu = statistics.median(v[1] for v in values)
        print(
            f"| {kind} | {'on' if on else 'off'} | {statistics.median(wall):.0f} | {p90:.0f} "
            f"| {cpu:.0f} |"
        )
    print(
        f"copy data per image: mean {bench.stored_mean / 1024:.1f} KiB, "
        f"max {bench.stored_max / 1024:.1f}"
    )
    print(
        f"describing one stored picture (boxes, features, box vectors): {bench.describe_ms:.0f} ms"
    )
    print(
        f"index build: {bench.build_s:.1f} s; visual words index loaded in "
        f"{bench.words_load_s:.1f} s, {bench.words_bytes / 2**20:.1f} MiB; "
        f"load average {os.getloadavg()[0]:.1f}"
    )


@dataclass
class Bench:
    corpus: object
    ids: list[int]  # the corpus's images; the first len(files) are the real pictures
    files: list[bytes]  # each real picture as a 1-MP JPEG
    describe_ms: float
    stored_mean: float  # copy data bytes per image
    stored_max: float
    build_s: float
    words_load_s: float = 0.0  # the visual words index, read from the database and built
    words_bytes: int = 0


def build(size: int) -> Bench:
    """The throw-away corpus of ``size`` images, described and indexed."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from synthetic import store_encoded

    from corpora.models import Corpus
    from search import services
    from search.copies import parts, store
    from search.copies.words_index import words_index
    from search.encoders import get_encoder
    from search.evaluation.copies_set import copy_set
    from search.indices.build import rebuild_index

    encoder = get_encoder("efficientnet-lite0")
    owner = get_user_model().objects.create(username="bench-copies")
    corpus = Corpus.objects.create(owner=owner, name="copies", encoder=encoder.name)
    pictures = [copy_set().render(row) for row in range(len(copy_set().items))]

    started = time.perf_counter()
    described = []
    for picture in pictures:
        boxes, blob, keypoints, words = store.describe(picture)
        box_pixels = [encoder.preprocess(parts.crop(picture, box)) for box in boxes]
        vectors = encoder.encode_batch(np.stack(box_pixels)) if box_pixels else None
        described.append((boxes, blob, keypoints, vectors, words))
    describe_ms = (time.perf_counter() - started) * 1000 / len(pictures)
    real = encoder.encode_batch(np.stack([encoder.preprocess(p) for p in pictures]))

    rng = np.random.default_rng(0)
    fill = size - len(real)
    near = real[rng.integers(0, len(real), fill)] + rng.standard_normal(
        (fill, real.shape[1]), dtype=np.float32
    ) * (0.9 / np.sqrt(real.shape[1]))
    near /= np.linalg.norm(near, axis=1, keepdims=True)
    ids = store_encoded(
        corpus, np.concatenate([real, near]).astype(np.float32), encoder.fingerprint
    )
    borrowed = list(range(len(real))) + rng.integers(0, len(real), fill).tolist()
    for start in range(0, len(ids), 2000):  # a chunk at a time: 100k rows of ~60 KiB
        store.save(
            [
                store.Described(
                    image_id=image_id,
                    corpus_id=corpus.pk,
                    boxes=described[source][0],
                    features=described[source][1],
                    keypoints=described[source][2],
                    box_vectors=described[source][3],
                    box_fingerprint=encoder.fingerprint if described[source][3] is not None else "",
                    words=described[source][4],
                )
                for image_id, source in zip(
                    ids[start : start + 2000], borrowed[start : start + 2000], strict=True
                )
            ]
        )
    # Planner statistics, as a serving database has them (PostgreSQL's autovacuum analyses):
    # without them SQLite reads a few hits' vectors through the (corpus, encoder, kind) index,
    # all 10,000 rows, instead of the image key (29 against 0.4 ms for 10 vectors).
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    started = time.perf_counter()
    rebuild_index(corpus=corpus)
    build_s = time.perf_counter() - started
    corpus.refresh_from_db()
    started = time.perf_counter()
    words = words_index(corpus, services.require_index(corpus).directory.name)
    words_load_s = time.perf_counter() - started
    stored = [
        len(described[s][1])
        + len(described[s][4])
        + (0 if described[s][3] is None else described[s][3].nbytes)
        for s in borrowed
    ]
    return Bench(
        corpus=corpus,
        ids=ids,
        files=[_jpeg_1mp(p) for p in pictures],
        describe_ms=describe_ms,
        stored_mean=float(np.mean(stored)),
        stored_max=float(max(stored)),
        build_s=build_s,
        words_load_s=words_load_s,
        words_bytes=words.nbytes,
    )


def queries(bench: Bench, on: bool):
    """(kind, call) of each timed query kind, with copy search ``on`` or off."""
    from django.conf import settings

    from search import services

    def with_setting(call):
        def run(n: int):
            settings.CRIER_COPY_SEARCH = on
            return call(n)

        return run

    return (
        ("more like this", with_setting(lambda n: services.search_similar(
            corpus=bench.corpus, record_id=bench.ids[n], k=10))),
        ("search by 1-MP file", with_setting(lambda n: services.search_image(
            corpus=bench.corpus, image=bench.files[n], k=10))),
    )  # fmt: skip


def interleaved(bench: Bench, count: int) -> dict[tuple[str, bool], list[tuple[float, float]]]:
    """(wall ms, CPU ms of the process: every thread) of each query kind with copy search on
    and off, query by query. On a busy machine the CPU time is the steadier figure."""
    rng = np.random.default_rng(0)
    chosen = rng.choice(len(bench.files), min(count, len(bench.files)), replace=False).tolist()
    for on in (True, False):  # warm-up: encoder, index, parts index
        for _, run in queries(bench, on):
            run(0)
    timings: dict[tuple[str, bool], list[tuple[float, float]]] = {}
    for n in chosen:
        for on in (True, False):
            for kind, run in queries(bench, on):
                started, cpu = time.perf_counter(), time.process_time()
                run(n)
                timings.setdefault((kind, on), []).append(
                    ((time.perf_counter() - started) * 1000, (time.process_time() - cpu) * 1000)
                )
    return timings


def _jpeg_1mp(picture) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    picture.convert("RGB").resize((1155, 866), Image.Resampling.BICUBIC).save(
        buffer, "JPEG", quality=90
    )
    return buffer.getvalue()


if __name__ == "__main__":
    main()
