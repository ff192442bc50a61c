"""12-megapixel camera-style JPEGs made from scikit-image's sample photos, for tests and
benchmarks (nothing big is committed: they are written where and when they are needed).

    from benchmarks.camera_photos import camera_jpeg, write_camera_photos  # in tests
    from camera_photos import camera_jpeg, write_camera_photos  # in benchmarks/*.py
    data = camera_jpeg(0)                                  # bytes of one 4000x3000 JPEG, q=90
    paths = write_camera_photos(folder, 200)               # 200 distinct files, cached on disk
    python benchmarks/camera_photos.py DIR --count 200     # the same from a shell
    python benchmarks/camera_photos.py DIR --eval-set     # near-duplicates set at 12 MP

Each photo is a different crop of a sample, upscaled with Lanczos to 4000x3000 with a little
sensor-like noise (so it compresses like a real photo: ~3-5 MB at quality 90, not ~1 MB) and
saved with camera-like EXIF (make, model, time). ``orientation=6`` stores it sideways
(3000x4000 pixels) with the EXIF tag that says "turn 90° clockwise", as phones do.
Needs Django set up (``benchmarks/bootstrap.py``; pytest does it) for the sample list.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

if __name__ == "__main__":  # run as a script: Django first (the sample list needs it)
    from bootstrap import setup_django

    setup_django()

import numpy as np
from PIL import Image

from corpora.examples import SAMPLE_PHOTOS, sample_photo_path

VERSION = 1  # in the file names: a new recipe never reuses files made by an old one
SIZE = (4000, 3000)
QUALITY = 90
_ORIENTATION, _MAKE, _MODEL, _DATETIME = 0x0112, 0x010F, 0x0110, 0x0132


@cache
def _sample(name: str) -> Image.Image:
    with Image.open(sample_photo_path(name)) as image:
        return image.convert("RGB")


def camera_image(index: int, size: tuple[int, int] = SIZE) -> Image.Image:
    """Photo ``index`` (any int; distinct for distinct indices) as an upright RGB image."""
    base = _sample(SAMPLE_PHOTOS[index % len(SAMPLE_PHOTOS)])
    rng = np.random.default_rng(index)
    w, h = base.size
    # A 3:4-ish crop at a position that depends on the index, so files differ.
    crop_w, crop_h = int(w * 0.8), int(min(h, w * 0.8 * size[1] / size[0]))
    left = int(rng.integers(0, w - crop_w + 1))
    top = int(rng.integers(0, h - crop_h + 1))
    image = base.crop((left, top, left + crop_w, top + crop_h))
    image = image.resize(size, Image.Resampling.LANCZOS)
    noise = rng.normal(0, 6.0, (size[1], size[0], 1)).astype(np.float32)
    pixels = np.clip(np.asarray(image, dtype=np.float32) + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, "RGB")


def camera_jpeg(
    index: int = 0,
    *,
    size: tuple[int, int] = SIZE,
    quality: int = QUALITY,
    orientation: int | None = None,
) -> bytes:
    """JPEG bytes of photo ``index``. With ``orientation`` (an EXIF value, e.g. 6) the pixels
    are stored turned so that a viewer applying the tag shows ``camera_image(index)``."""
    image = camera_image(index, size)
    exif = Image.Exif()
    exif[_MAKE], exif[_MODEL], exif[_DATETIME] = "CRIER", "Test Camera 12MP", "2026:11:26 12:00:00"
    if orientation is not None:
        exif[_ORIENTATION] = orientation
        image = image.transpose(_STORE_TRANSPOSE[orientation])
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality, exif=exif.tobytes())
    return buffer.getvalue()


# How to store an upright picture so that EXIF orientation N turns it upright again.
_STORE_TRANSPOSE = {
    3: Image.Transpose.ROTATE_180,
    6: Image.Transpose.ROTATE_90,  # shown after a 90° clockwise turn
    8: Image.Transpose.ROTATE_270,
}


def write_camera_photos(folder: Path, count: int, *, rotated_every: int = 0) -> list[Path]:
    """``count`` camera JPEGs in ``folder`` (made once; existing files are reused). With
    ``rotated_every=n`` every n-th one is stored sideways with EXIF orientation 6."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        rotated = bool(rotated_every) and index % rotated_every == rotated_every - 1
        sample = Path(SAMPLE_PHOTOS[index % len(SAMPLE_PHOTOS)]).stem
        path = folder / f"camera-{index:04d}-{sample}{'-rot6' if rotated else ''}-v{VERSION}.jpg"
        if not path.exists():
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(camera_jpeg(index, orientation=6 if rotated else None))
            tmp.replace(path)
        paths.append(path)
    return paths


def write_camera_eval_set(folder: Path, *, long_side: int = 4000) -> int:
    """The near-duplicates evaluation set (docs/evaluation.md) at camera scale: every edited
    copy upscaled (Lanczos) to ``long_side`` pixels and saved as a quality-90 JPEG, one folder
    per photo, so ``manage.py evaluate --dataset <folder>`` measures retrieval on 12-MP files."""
    from search.evaluation import near_duplicates

    count = 0
    for photo in near_duplicates.find_photos():
        target = Path(folder) / photo.stem
        target.mkdir(parents=True, exist_ok=True)
        for edit in near_duplicates.EDITS:
            path = target / f"{edit.__name__}.jpg"
            if not path.exists():
                image = near_duplicates.render(photo, edit).convert("RGB")
                scale = long_side / max(image.size)
                size = (round(image.width * scale), round(image.height * scale))
                image.resize(size, Image.Resampling.LANCZOS).save(path, quality=QUALITY)
            count += 1
    return count


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Write camera-scale test photos.")
    parser.add_argument("folder", type=Path)
    parser.add_argument("--count", type=int, default=0, help="camera JPEGs to write")
    parser.add_argument("--eval-set", action="store_true", help="the near-duplicates set")
    args = parser.parse_args()
    if args.count:
        print(f"{len(write_camera_photos(args.folder, args.count))} photos in {args.folder}")
    if args.eval_set:
        print(f"{write_camera_eval_set(args.folder)} photos in {args.folder}")


if __name__ == "__main__":
    main()
