"""Searching with a part of the query image: a region given as fractions of its width and
height (``left,top,right,bottom``, e.g. ``0.1,0.2,0.6,0.9``), so a client needs no pixel sizes
and a region drawn on a scaled preview means the same on the full image.

Any four fractions make a region: corners given in either order are swapped, and a region
narrower or lower than MIN_SIDE of the image (``0,0,0,0``, a click without a drag) or than
MIN_PIXELS pixels is widened to that about its centre, within the image. So every region the
API's schema allows (``FRACTIONS``) is searched with, never refused."""

from __future__ import annotations

import math
from dataclasses import dataclass

from PIL import Image

from crier_site.errors import InvalidInput

MIN_SIDE = 0.02  # of the image's width or height
MIN_PIXELS = 8  # per side, after cropping
_FRACTION = r"(?:0(?:\.[0-9]*)?|1(?:\.0*)?|\.[0-9]+)"
# Four fractions in [0, 1], separated by commas, spaces allowed: the API schema's pattern.
FRACTIONS = rf"^ *{_FRACTION} *(?:, *{_FRACTION} *){{3}}$"


def _widened(low: float, high: float, least: float, limit: float) -> tuple[float, float]:
    """``low``..``high`` (in either order) at least ``least`` long, about the same centre,
    within 0..``limit``."""
    low, high = min(low, high), max(low, high)
    if high - low >= least:
        return low, high
    if least >= limit:
        return 0.0, limit
    start = min(max((low + high - least) / 2, 0.0), limit - least)
    return start, start + least


@dataclass(frozen=True)
class Region:
    left: float
    top: float
    right: float
    bottom: float

    @classmethod
    def parse(cls, text: str) -> Region:
        """``"left,top,right,bottom"`` fractions in [0, 1]; InvalidInput says what is wrong."""
        parts = [part.strip() for part in str(text).split(",")]
        try:
            values = [float(part) for part in parts]
        except ValueError:
            values = []
        if len(values) != 4 or not all(math.isfinite(v) for v in values):
            raise InvalidInput(
                "The region must be four numbers, left,top,right,bottom, as fractions of the "
                "image's width and height (for example 0.1,0.2,0.6,0.9).",
                region=str(text)[:100],
            )
        if not all(0.0 <= v <= 1.0 for v in values):
            raise InvalidInput(
                "The region's numbers must be between 0 and 1.", region=str(cls(*values))
            )
        left, right = _widened(values[0], values[2], MIN_SIDE, 1.0)
        top, bottom = _widened(values[1], values[3], MIN_SIDE, 1.0)
        return cls(left, top, right, bottom)

    def crop(self, image: Image.Image) -> Image.Image:
        width, height = image.size
        left, right = _widened(self.left * width, self.right * width, MIN_PIXELS, width)
        top, bottom = _widened(self.top * height, self.bottom * height, MIN_PIXELS, height)
        return image.crop((round(left), round(top), round(right), round(bottom)))

    def __str__(self) -> str:
        return ",".join(f"{v:.4g}" for v in (self.left, self.top, self.right, self.bottom))
