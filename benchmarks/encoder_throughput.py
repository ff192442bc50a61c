"""Encoder throughput on real photos: EfficientNet-Lite0 at batch 1 and batch 32, and the
histogram baseline, in one run.

    .venv/bin/python benchmarks/encoder_throughput.py [--images 256] [--repeats 3]

"end to end" is ``encode()`` on decoded PIL images (resize + scale + inference); "inference" is
``encode_batch()`` on already preprocessed arrays. The best of ``--repeats`` runs is reported.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crier_site.settings")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import django

django.setup()

import numpy as np  # noqa: E402
import skimage  # noqa: E402
from PIL import Image, ImageOps  # noqa: E402

from search.encoders import Encoder, get_encoder  # noqa: E402

PHOTOS = ["chelsea.png", "coffee.png", "rocket.jpg", "astronaut.png", "motorcycle_left.png"]


def photos(count: int) -> list[Image.Image]:
    """``count`` distinct real photos: crops, flips and rescales of scikit-image's samples."""
    data = Path(skimage.__file__).parent / "data"
    bases = [Image.open(data / name).convert("RGB") for name in PHOTOS]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    images = photos(args.images)
    lite0, histogram = get_encoder("efficientnet-lite0"), get_encoder("histogram")
    arrays = np.stack([lite0.preprocess(image) for image in images])
    n, r = len(images), args.repeats

    def inference(batch_size: int) -> None:
        for start in range(0, n, batch_size):
            lite0.encode_batch(arrays[start : start + batch_size])

    rows = [
        ("efficientnet-lite0, batch 1, inference", best_rate(lambda: inference(1), n, r)),
        ("efficientnet-lite0, batch 32, inference", best_rate(lambda: inference(32), n, r)),
        (
            "efficientnet-lite0, batch 1, end to end",
            best_rate(lambda: with_batch_size(lite0, 1, images), n, r),
        ),
        (
            "efficientnet-lite0, batch 32, end to end",
            best_rate(lambda: with_batch_size(lite0, 32, images), n, r),
        ),
        (
            "histogram, batch 32, end to end",
            best_rate(lambda: with_batch_size(histogram, 32, images), n, r),
        ),
    ]
    print(f"{n} photos (scikit-image samples, {images[0].width}x{images[0].height} and similar), "
          f"{os.cpu_count()} CPUs, best of {r}")  # fmt: skip
    print("| encoder, batch, what | images/s |")
    print("|---|---:|")
    for label, rate in rows:
        print(f"| {label} | {rate:.0f} |")


if __name__ == "__main__":
    main()
