"""End-to-end ingestion throughput: image files on disk → searchable, next to the encoder alone.

    .venv/bin/python benchmarks/ingest.py [--images 256] [--big 100000] [--encoder NAME]

Runs in a throw-away data dir with its own SQLite database (the shared prepared models are
reused). Three figures, measured in one run so they share the machine's state:
  1. encoder alone: ``encoder.encode(paths)`` — decode, preprocess and inference, serial;
  2. end to end: ``ingest_files`` (validate, hash, store, insert) + the encoding job (decode
     overlapped with inference, batched DB writes) + the index build, until a search answers;
  3. with ``--big N``: seconds until one new image is searchable in a corpus that already holds
     N vectors (synthetic, inserted directly), and how many images the encoder saw (must be 1).
"""

from __future__ import annotations

import argparse
import io
import os
import time
from pathlib import Path

from bootstrap import ROOT, setup_django


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--big", type=int, default=0, help="Also time adding 1 image to N vectors.")
    parser.add_argument("--encoder", default="efficientnet-lite0")
    args = parser.parse_args()

    os.environ.setdefault("CRIER_MODEL_DIR", str(ROOT / "var" / "models"))
    workdir = setup_django(scratch_prefix="crier-bench-")
    files = make_photos(workdir / "photos", args.images)
    print(f"{len(files)} JPEG photos in {workdir / 'photos'}")

    from search.encoders import get_encoder

    encoder = get_encoder(args.encoder)
    encoder.encode([files[0]])  # warm-up: graph tracing, thread pools
    started = time.perf_counter()
    encoder.encode(files)
    alone = len(files) / (time.perf_counter() - started)
    print(f"encoder alone ({encoder.name}, batch {encoder.batch_size}): {alone:.1f} img/s")

    end_to_end = time_end_to_end(files, args.encoder)
    print(f"end to end (files → searchable): {end_to_end:.1f} img/s")
    print(f"ratio end-to-end / encoder alone: {end_to_end / alone:.2f}")

    if args.big:
        seconds, rows = time_add_one(args.big, files[0], args.encoder)
        print(
            f"add 1 image to a {args.big:,}-vector corpus: searchable after {seconds:.1f} s "
            f"(encoder saw {rows} image)"
        )


def make_photos(folder: Path, count: int) -> list[Path]:
    """Real photos (scikit-image samples) cropped and resized differently, saved as JPEG."""
    import numpy as np
    from PIL import Image

    from corpora.examples import sample_photo_path

    folder.mkdir(parents=True)
    sources = [
        Image.open(sample_photo_path(name)).convert("RGB")
        for name in (
            "astronaut.png",
            "chelsea.png",
            "coffee.png",
            "rocket.jpg",
            "motorcycle_left.png",
            "hubble_deep_field.jpg",
            "retina.jpg",
            "ihc.png",
        )
    ]
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        image = sources[i % len(sources)]
        w, h = image.size
        left, top = int(rng.integers(0, w // 4)), int(rng.integers(0, h // 4))
        crop = image.crop((left, top, left + w * 3 // 4, top + h * 3 // 4))
        crop = crop.resize((640, int(640 * crop.height / crop.width)))
        path = folder / f"photo-{i:05d}.jpg"
        crop.save(path, quality=int(rng.integers(70, 95)))
        paths.append(path)
    return paths


def time_end_to_end(files: list[Path], encoder_name: str) -> float:
    from django.contrib.auth import get_user_model

    from corpora import services
    from search.encoding import job
    from search.services import search_image

    owner = get_user_model().objects.create_user("bench")
    corpus = services.create_corpus(owner=owner, name="bench", encoder=encoder_name)
    started = time.perf_counter()
    handles = [path.open("rb") for path in files]
    try:
        report = services.ingest_files(
            corpus=corpus,
            files=[(path.name, h) for path, h in zip(files, handles, strict=True)],
            enqueue=False,
        )
    finally:
        for handle in handles:
            handle.close()
    ingested = time.perf_counter()
    job.encode_corpus(corpus_id=corpus.pk)
    corpus.refresh_from_db()
    result = search_image(corpus=corpus, image=files[0], k=1)
    total = time.perf_counter() - started
    assert len(report.accepted) == len(files) and result.hits, "benchmark corpus incomplete"
    print(
        f"  ingest_files {ingested - started:.1f} s, encode + index + first search "
        f"{total - (ingested - started):.1f} s"
    )
    return len(files) / total


def time_add_one(n: int, photo: Path, encoder_name: str) -> tuple[float, int]:
    import numpy as np
    from django.contrib.auth import get_user_model
    from synthetic import store_encoded

    from corpora import services
    from corpora.models import ImageRecord
    from search.encoders import get_encoder
    from search.encoding import job
    from search.services import search_image

    owner = get_user_model().objects.get(username="bench")
    corpus = services.create_corpus(owner=owner, name=f"big-{n}", encoder=encoder_name)
    encoder = get_encoder(encoder_name)
    rng = np.random.default_rng(1)
    print(f"  inserting {n:,} synthetic vectors…", flush=True)
    vectors = rng.standard_normal((n, encoder.dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    store_encoded(corpus, vectors, encoder.fingerprint)
    started = time.perf_counter()
    job.encode_corpus(corpus_id=corpus.pk)
    print(f"  initial index of {n:,} vectors built in {time.perf_counter() - started:.1f} s")

    calls = {"rows": 0}
    original = encoder.encode_and_classify_batch  # what the encoding job calls

    def counting(batch, top=5):
        calls["rows"] += len(batch)
        return original(batch, top)

    encoder.encode_and_classify_batch = counting
    started = time.perf_counter()
    with photo.open("rb") as handle:
        services.ingest_files(
            corpus=corpus, files=[("new.jpg", io.BytesIO(handle.read()))], enqueue=False
        )
    job.encode_corpus(corpus_id=corpus.pk)
    encoded_rows = calls["rows"]  # the query below is encoded too; it is not part of the add
    corpus.refresh_from_db()
    hit = search_image(corpus=corpus, image=photo, k=1).hits[0]
    seconds = time.perf_counter() - started
    assert ImageRecord.objects.get(pk=hit.record_id).original_filename == "new.jpg"
    return seconds, encoded_rows


if __name__ == "__main__":
    main()
