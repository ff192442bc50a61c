"""Decode + preprocess of one 12-MP camera JPEG, before and after reduced-scale decoding.

    .venv/bin/python benchmarks/decode.py [--repeats 15] [--encoder-size 224]

"before" is the path CRIER took until PREPROCESSING_VERSION 2, rebuilt here from plain Pillow
calls so both run in the same process on the same bytes: a full 4000x3000 decode, EXIF
orientation, then one bilinear resize of the centre crop to the model's side. "after" is the
code that runs now: ``search.encoding.preprocessing.open_image`` (the one gate, JPEG
``draft()`` to the smallest DCT scale still >= 2x the model's side) and ``resize_for_model``
(reducing gap 2).
Also times the upload check (``corpora.preparation.prepare``: one ``decode_image`` at the
encoder's scale, the thumbnail and the model input) against the old check (``verify()`` + a
256-px draft decode). Reports the median of ``--repeats`` runs per case.
"""

from __future__ import annotations

import argparse
import io
import statistics

from bootstrap import setup_django, timed_runs

setup_django()

import numpy as np  # noqa: E402
from camera_photos import camera_jpeg  # noqa: E402
from PIL import Image, ImageOps  # noqa: E402

from corpora import preparation  # noqa: E402
from search.encoders.efficientnet_lite.build import PREPROCESSING  # noqa: E402
from search.encoding.preprocessing import decode_side, open_image, resize_for_model, scale_pixels  # noqa: E402

CROP = PREPROCESSING["crop_fraction"]


def before(data: bytes, size: int) -> np.ndarray:
    image = Image.open(io.BytesIO(data))
    image.load()
    image = ImageOps.exif_transpose(image).convert("RGB")
    width, height = image.size
    side = min(width, height) * CROP
    left, top = (width - side) / 2, (height - side) / 2
    box = (left, top, left + side, top + side)
    resized = image.resize((size, size), Image.Resampling.BILINEAR, box=box)
    return scale_pixels(resized, PREPROCESSING["offset"], PREPROCESSING["scale"])


def after(data: bytes, size: int) -> np.ndarray:
    picture = open_image(data, min_side=decode_side(size, CROP))
    resized = resize_for_model(picture, size, CROP)
    return scale_pixels(resized, PREPROCESSING["offset"], PREPROCESSING["scale"])


def old_upload_check(data: bytes) -> None:
    with Image.open(io.BytesIO(data)) as image:
        image.verify()
    with Image.open(io.BytesIO(data)) as image:
        image.draft("RGB", (256, 256))
        image.load()


PLAN = preparation.plan_for("efficientnet-lite0")


def new_upload_check(data: bytes) -> None:
    preparation.prepare(data, PLAN)


def median_ms(run, repeats: int) -> float:
    return statistics.median(timed_runs(run, repeats)) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--encoder-size", type=int, default=224)
    args = parser.parse_args()
    size = args.encoder_size
    photos = {"upright": camera_jpeg(0), "EXIF orientation 6": camera_jpeg(1, orientation=6)}
    for label, data in photos.items():
        old, new = before(data, size), after(data, size)
        cosine_like = float(np.corrcoef(old.ravel(), new.ravel())[0, 1])
        print(f"\n12-MP JPEG, {label}: {len(data) / 2**20:.1f} MiB, model side {size}")
        print(
            f"  pixels before vs after: correlation {cosine_like:.4f}, "
            f"mean |diff| {np.abs(old - new).mean():.4f} (of a -1..1 range)"
        )
        b = median_ms(lambda data=data: before(data, size), args.repeats)
        a = median_ms(lambda data=data: after(data, size), args.repeats)
        print(f"  decode + preprocess: before {b:.1f} ms, after {a:.1f} ms ({b / a:.1f}x)")
        ob = median_ms(lambda data=data: old_upload_check(data), args.repeats)
        nb = median_ms(lambda data=data: new_upload_check(data), args.repeats)
        print(
            f"  upload check: before {ob:.1f} ms (verify + 256-px draft), "
            f"after {nb:.1f} ms (decode_image at {PLAN.decode_side} px + WebP thumbnail "
            "+ model input)"
        )


if __name__ == "__main__":
    main()
