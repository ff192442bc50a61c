"""From any image source to the model's input: decoding goes through the one gate
(``corpora.validation.decode_image``), at the scale the model needs; then the exact resize and
pixel scaling the encoders share. Pure PIL + numpy, so it is safe to run in worker threads."""

from __future__ import annotations

import math
from functools import partial
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image

from corpora.validation import decode_image, prepare_picture, read_limited
from crier_site.errors import InvalidInput
from search.encoding.model_inputs import ModelInputRecipe

ImageSource = str | Path | bytes | bytearray | BinaryIO | Image.Image

# Part of every encoder's fingerprint: stored vectors made by another preprocessing are
# encoded again. 2: reduced-scale decoding (draft/reduce to >= 2x the model's side) and
# resizes with a reducing gap of 2.
PREPROCESSING_VERSION = 2
# Decoding keeps at least this many times the model's input side before the exact resize.
DECODE_MARGIN = 2
RESIZE_REDUCING_GAP = 2.0


def decode_side(input_size: int, crop_fraction: float | None, *, region_share: float = 1.0) -> int:
    """The short side an image must keep when decoded, so that the part the model sees (the
    centre crop, or a region of ``region_share`` of the short side) is still >= 2x its input."""
    side = DECODE_MARGIN * input_size / (crop_fraction or 1.0) / max(region_share, 1e-3)
    return math.ceil(side)


def open_image(source: ImageSource, *, min_side: int | None = None) -> Image.Image:
    """Decode ``source`` into an RGB image: EXIF orientation applied, first frame of an
    animation, alpha composited on white, short side reduced to no less than ``min_side``.
    Raises InvalidInput or PayloadTooLarge (the same checks and messages as uploads)."""
    if isinstance(source, Image.Image):
        return prepare_picture(source, min_side=min_side)
    if isinstance(source, bytes | bytearray):
        data = bytes(source)
    elif isinstance(source, str | Path):
        try:
            with open(source, "rb") as handle:
                data = read_limited(handle)
        except OSError as exc:
            raise InvalidInput(f"{Path(source).name} cannot be read ({exc.strerror}).") from None
    else:
        data = read_limited(source, declared_size=getattr(source, "size", None))
    return decode_image(data, min_side=min_side, digest=False).image


def resize_for_model(image: Image.Image, size: int, crop_fraction: float | None) -> Image.Image:
    """Bilinear resize to ``size``x``size``. With ``crop_fraction`` the short side is scaled to
    ``size / crop_fraction`` and the centre ``size``x``size`` kept (the ImageNet eval recipe);
    without it the whole image is squashed to a square. A large image is first box-reduced by
    a whole factor (down to 2x the output), which costs a fraction of filtering it at full size."""
    if crop_fraction is None:
        return image.resize(
            (size, size), Image.Resampling.BILINEAR, reducing_gap=RESIZE_REDUCING_GAP
        )
    width, height = image.size
    # The centre crop expressed in source pixels, so one resize does both steps.
    side = min(width, height) * crop_fraction
    left, top = (width - side) / 2, (height - side) / 2
    return image.resize(
        (size, size),
        Image.Resampling.BILINEAR,
        box=(left, top, left + side, top + side),
        reducing_gap=RESIZE_REDUCING_GAP,
    )


def model_pixels(image: Image.Image, *, size: int, crop_fraction: float | None) -> np.ndarray:
    """What a network of input ``size`` sees of ``image``: ``resize_for_model``'s uint8 pixels,
    ``(size, size, 3)``. The encoders' ``preprocess`` starts with exactly this."""
    return np.asarray(resize_for_model(image, size, crop_fraction))


def model_input_recipe(
    fingerprint: str, size: int, crop_fraction: float | None
) -> ModelInputRecipe:
    """How uploads become the input of an encoder with these facts
    (``search.encoding.model_inputs``): decoded at the encoder's own scale, then
    ``model_pixels``."""
    return ModelInputRecipe(
        fingerprint=fingerprint,
        decode_side=decode_side(size, crop_fraction),
        picture=partial(model_pixels, size=size, crop_fraction=crop_fraction),
    )


def scale_pixels(pixels: Image.Image | np.ndarray, offset: float, scale: float) -> np.ndarray:
    """RGB pixels (an image or a uint8 HWC array) to a float32 HWC array
    ``(pixels - offset) / scale``."""
    pixels = np.asarray(pixels, dtype=np.float32)
    return (pixels - np.float32(offset)) / np.float32(scale)
