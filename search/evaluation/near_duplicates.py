"""The near-duplicates set: real photographs shipped by installed packages, plus edited copies.

Every edit is deterministic (fixed parameters, nothing random), so the set is the same on every
machine with the same package versions; bump ``VERSION`` when an edit changes.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageEnhance, ImageFont, ImageOps

from corpora.examples import SAMPLE_PHOTOS, sample_photo_path

VERSION = "v1"
MAX_SIDE = 512

MATPLOTLIB_PHOTOS = ["grace_hopper.jpg"]


def find_photos() -> list[Path]:
    """The photos that exist in this environment, in a fixed order."""
    return shipped_pictures(SAMPLE_PHOTOS, MATPLOTLIB_PHOTOS)


def shipped_pictures(skimage_names: Sequence[str], matplotlib_names: Sequence[str]) -> list[Path]:
    """Those of the named sample pictures of scikit-image and matplotlib that are installed,
    in the order given."""
    found: list[Path] = []
    try:
        paths = [sample_photo_path(name) for name in skimage_names]
        found += [path for path in paths if path.is_file()]
    except ImportError:
        pass
    try:
        import matplotlib

        sample = Path(matplotlib.get_data_path()) / "sample_data"
        found += [sample / name for name in matplotlib_names if (sample / name).is_file()]
    except ImportError:
        pass
    return found


@lru_cache(maxsize=4)
def _photo(path: Path) -> Image.Image:
    image = Image.open(path).convert("RGB")
    image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    return image


def original(image: Image.Image) -> Image.Image:
    return image


def crop(image: Image.Image) -> Image.Image:
    """Keep 70% of each side, off-centre (towards the top left)."""
    w, h = image.size
    return image.crop((int(w * 0.1), int(h * 0.08), int(w * 0.8), int(h * 0.78)))


def mirror(image: Image.Image) -> Image.Image:
    return ImageOps.mirror(image)


def rotate(image: Image.Image) -> Image.Image:
    """15 degrees, black corners, same canvas: what a tilted scan or phone photo looks like."""
    return image.rotate(15, resample=Image.Resampling.BICUBIC, expand=False)


def downscale_jpeg(image: Image.Image) -> Image.Image:
    """A quarter of the size, then JPEG at quality 30."""
    small = image.resize(
        (max(1, image.width // 4), max(1, image.height // 4)), Image.Resampling.BILINEAR
    )
    buffer = io.BytesIO()
    small.save(buffer, format="JPEG", quality=30)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


def colour_shift(image: Image.Image) -> Image.Image:
    """A warm tint (channel gains), brighter and more saturated: also changes grey photos."""
    r, g, b = image.split()
    r = r.point(lambda v: min(255, int(v * 1.25 + 10)))
    b = b.point(lambda v: int(v * 0.75))
    tinted = Image.merge("RGB", (r, g, b))
    tinted = ImageEnhance.Brightness(tinted).enhance(1.1)
    return ImageEnhance.Color(tinted).enhance(1.4)


def overlay(image: Image.Image) -> Image.Image:
    """A solid box over a corner (~12% of the area) and a caption across the bottom."""
    out = image.copy()
    w, h = out.size
    draw = ImageDraw.Draw(out)
    draw.rectangle((int(w * 0.62), int(h * 0.05), int(w * 0.95), int(h * 0.42)), fill=(200, 30, 30))
    font = ImageFont.load_default(size=max(12, h // 12))
    draw.text((int(w * 0.05), int(h * 0.82)), "CRIER © 2024", fill=(255, 255, 255), font=font)
    return out


EDITS: list[Callable[[Image.Image], Image.Image]] = [
    original, crop, mirror, rotate, downscale_jpeg, colour_shift, overlay,
]  # fmt: skip


def render(photo: Path, edit: Callable[[Image.Image], Image.Image]) -> Image.Image:
    return edit(_photo(photo))
