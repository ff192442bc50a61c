"""Searching with a part of the query image: a region given as fractions of its width and
height (``left,top,right,bottom``, e.g. ``0.1,0.2,0.6,0.9``), so a client needs no pixel sizes
and a region drawn on a scaled preview means the same on the full image."""

from __future__ import annotations

import math
from dataclasses import dataclass

from PIL import Image

from crier_site.errors import InvalidInput

MIN_SIDE = 0.02  # of the image's width or height
MIN_PIXELS = 8  # per side, after cropping


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
        region = cls(*values)
        if not all(0.0 <= v <= 1.0 for v in values):
            raise InvalidInput("The region's numbers must be between 0 and 1.", region=str(region))
        if region.right - region.left < MIN_SIDE or region.bottom - region.top < MIN_SIDE:
            raise InvalidInput(
                f"The region must be at least {MIN_SIDE:.0%} of the image wide and high, with "
                "right > left and bottom > top.",
                region=str(region),
            )
        return region

    def crop(self, image: Image.Image) -> Image.Image:
        width, height = image.size
        box = (
            round(self.left * width),
            round(self.top * height),
            round(self.right * width),
            round(self.bottom * height),
        )
        if box[2] - box[0] < MIN_PIXELS or box[3] - box[1] < MIN_PIXELS:
            raise InvalidInput(
                f"The region is only {box[2] - box[0]}×{box[3] - box[1]} pixels of this image; "
                f"choose at least {MIN_PIXELS}×{MIN_PIXELS}.",
                region=str(self),
            )
        return image.crop(box)

    def __str__(self) -> str:
        return ",".join(f"{v:.4g}" for v in (self.left, self.top, self.right, self.bottom))
