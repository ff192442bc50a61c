"""Bytes a browser loads for a corpus page of 48 camera photos: thumbnails against originals.

    .venv/bin/python benchmarks/page_bytes.py [--photos 48] [--cache DIR]

Makes (once, cached in ``--cache``) 12-MP camera JPEGs, ingests them into a throw-away corpus
(own data dir and SQLite database), then fetches the corpus page the way a browser does: the
HTML, then every image the grid shows. Prints the page's total bytes and what the same grid
would weigh with the original files, and how long ingest took per photo (check + store +
thumbnail).
"""

from __future__ import annotations

import argparse
import io
import re
import shutil
import time
from pathlib import Path

from bootstrap import setup_django

SCRATCH = setup_django(scratch_prefix="crier-page-bytes-")

from camera_photos import write_camera_photos  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402

from corpora import services  # noqa: E402

IMG_SRC = re.compile(r'<img [^>]*src="([^"]+)"')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=48)
    parser.add_argument("--cache", type=Path, default=Path("var") / "camera-photos")
    args = parser.parse_args()
    paths = write_camera_photos(args.cache, args.photos, rotated_every=8)
    owner = get_user_model().objects.create_user("bench", password="a-long-passphrase-1")
    corpus = services.create_corpus(owner=owner, name="camera roll", encoder="histogram")
    started = time.perf_counter()
    files = [(path.name, io.BytesIO(path.read_bytes())) for path in paths]
    report = services.ingest_files(corpus=corpus, files=files, enqueue=False)
    ingest_s = time.perf_counter() - started
    assert len(report.accepted) == len(paths), report.rejected

    client = Client(HTTP_HOST="localhost")
    client.force_login(owner)
    page = client.get(reverse("corpora:detail", args=[corpus.pk]))
    html = page.content
    sources = [src for src in IMG_SRC.findall(html.decode()) if src.startswith("/")]
    images = sum(len(b"".join(client.get(src).streaming_content)) for src in sources)
    originals = sum(corpus.images.values_list("byte_size", flat=True))
    mib = 1 << 20
    print(f"{len(paths)} camera JPEGs (4000x3000, q90): {originals / mib:.1f} MiB in all")
    print(f"ingest (check + store + thumbnail): {1000 * ingest_s / len(paths):.0f} ms per photo")
    print(f"corpus page: HTML {len(html) / 1024:.0f} KiB + {len(sources)} images "
          f"{images / 1024:.0f} KiB = {(len(html) + images) / mib:.2f} MiB "
          f"(with the originals the grid alone would be {originals / mib:.1f} MiB)")  # fmt: skip


if __name__ == "__main__":
    try:
        main()
    finally:
        shutil.rmtree(SCRATCH, ignore_errors=True)  # the copies of the photos and the database
