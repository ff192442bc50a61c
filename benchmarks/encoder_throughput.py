"""Encoder throughput on real photos: EfficientNet-Lite at batch 1 and batch 32, and the
histogram baseline, in one run.

    .venv/bin/python benchmarks/encoder_throughput.py [--images 256] [--repeats 3]
        [--encoders efficientnet-lite0,efficientnet-lite1] [--slices 4,16]
        [--runtimes litert,tensorflow]

"end to end" is ``encode()`` on decoded PIL images (resize + scale + inference); "inference" is
``encode_batch()`` on already preprocessed arrays. The best of ``--repeats`` runs is reported.
``--runtimes`` measures each encoder on each runtime (``CRIER_RUNTIME``) in the same process;
"slice" is ``CRIER_INFERENCE_SLICE`` on TensorFlow and ``CRIER_LITERT_BATCH`` on LiteRT.
"""

from __future__ import annotations

import argparse
import os
import time

from bootstrap import setup_django

setup_django()

import numpy as np  # noqa: E402
from django.conf import settings  # noqa: E402
from PIL import Image, ImageOps  # noqa: E402

from corpora.examples import sample_photo_path  # noqa: E402
from search.encoders import Encoder, get_encoder  # noqa: E402

PHOTOS = ["chelsea.png", "coffee.png", "rocket.jpg", "astronaut.png", "motorcycle_left.png"]


def photos(count: int) -> list[Image.Image]:
    """``count`` distinct real photos: crops, flips and rescales of scikit-image's samples."""
    bases = [Image.open(sample_photo_path(name)).convert("RGB") for name in PHOTOS]
    images = []
    for i in range(count):
        base = bases[i % len(bases)]
        w, h = base.size
        k = i // len(bases)
        image = base.crop((k % 7 * 6, k % 5 * 6, w - k % 3 * 8, h - k % 4 * 5))
        image = image.resize((int(image.width * (0.8 + k % 4 * 0.15)), int(image.height * 0.9)))
        images.append(ImageOps.mirror(image) if k % 2 else image)
    return images


def best_rate(run, count: int, repeats: int) -> float:
    run()  # warm-up: traces the graph
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return count / min(times)


def with_batch_size(encoder: Encoder, batch_size: int, images: list) -> None:
    previous, encoder.batch_size = encoder.batch_size, batch_size
    try:
        encoder.encode(images)
    finally:
        encoder.batch_size = previous


def neural_rows(
    name: str, images: list, repeats: int, slices: list[int]
) -> list[tuple[str, float]]:
    encoder = get_encoder(name)
    arrays = np.stack([encoder.preprocess(image) for image in images])
    n = len(images)

    def inference(batch_size: int) -> None:
        for start in range(0, n, batch_size):
            encoder.encode_batch(arrays[start : start + batch_size])

    name = f"{name} ({encoder.runtime})"
    rows = [(f"{name}, batch 1, inference", best_rate(lambda: inference(1), n, repeats))]
    default_slice = encoder.inference_slice
    try:
        for size in slices:
            encoder.inference_slice = size
            label = f"{name}, batch 32, inference, slice {size}"
            rows.append((label, best_rate(lambda: inference(32), n, repeats)))
    finally:
        encoder.inference_slice = default_slice
    for batch_size in (1, 32):
        rate = best_rate(lambda b=batch_size: with_batch_size(encoder, b, images), n, repeats)
        rows.append((f"{name}, batch {batch_size}, end to end (slice {default_slice})", rate))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--encoders", default="efficientnet-lite0", help="comma-separated")
    parser.add_argument(
        "--slices", default="", help="comma-separated CRIER_INFERENCE_SLICE values to compare"
    )
    parser.add_argument("--runtimes", default=settings.CRIER_RUNTIME, help="comma-separated")
    args = parser.parse_args()
    images = photos(args.images)
    slices = [int(s) for s in args.slices.split(",") if s] or [settings.CRIER_INFERENCE_SLICE]
    rows = []
    for runtime in args.runtimes.split(","):
        settings.CRIER_RUNTIME = runtime
        for name in args.encoders.split(","):
            rows += neural_rows(name, images, args.repeats, slices)
    histogram = get_encoder("histogram")
    rate = best_rate(lambda: with_batch_size(histogram, 32, images), len(images), args.repeats)
    rows.append(("histogram, batch 32, end to end", rate))
    print(f"{len(images)} photos (scikit-image samples, {images[0].width}x{images[0].height} and "
          f"similar), {os.cpu_count()} CPUs, best of {args.repeats}")  # fmt: skip
    print("| encoder, batch, what | images/s |")
    print("|---|---:|")
    for label, rate in rows:
        print(f"| {label} | {rate:.0f} |")


if __name__ == "__main__":
    main()
