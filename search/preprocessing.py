"""Turning whatever a user uploads into a plain RGB image, and the resize/scale helpers the
encoders share. Pure PIL + numpy, so it is safe to run in worker threads."""

from __future__ import annotations

import io
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageCms, UnidentifiedImageError

from crier_site.errors import InvalidInput, PayloadTooLarge

ImageSource = str | Path | bytes | bytearray | BinaryIO | Image.Image

_ORIENTATION_TAG = 0x0112
_ORIENTATION_OPS = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_ALPHA_MODES = {"RGBA", "RGBa", "LA", "La", "PA"}
_SRGB = ImageCms.createProfile("sRGB")


def _max_pixels() -> int:
    from django.conf import settings

    return int(getattr(settings, "CRIER_MAX_IMAGE_PIXELS", 50_000_000))


def _describe(source: ImageSource) -> str:
    if isinstance(source, str | Path):
        return str(source)
    return getattr(source, "name", None) or "upload"


def _orientation(image: Image.Image) -> int:
    try:
        return int(image.getexif().get(_ORIENTATION_TAG, 1))
    except Exception:  # corrupt EXIF must not make a good photo unreadable
        return 1


def _high_bit_depth_to_l(image: Image.Image) -> Image.Image:
    """16-bit and 32-bit greyscale ("I;16", "I", "F") to 8-bit "L", keeping the full range."""
    data = np.asarray(image)
    if image.mode.startswith("I;16") or (image.mode == "I" and data.max(initial=0) > 255):
        data = data.astype(np.float32) / 257.0
    elif image.mode == "F" and data.max(initial=0) <= 1.0:
        data = data * 255.0
    return Image.fromarray(np.clip(np.rint(data), 0, 255).astype(np.uint8), "L")


def _cmyk_to_rgb(image: Image.Image) -> Image.Image:
    profile = image.info.get("icc_profile")
    if profile:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
            return ImageCms.profileToProfile(image, source, _SRGB, outputMode="RGB")
        except Exception:  # a broken profile falls back to the naive conversion
            pass
    return image.convert("RGB")


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode to RGB; transparency is composited on white."""
    mode = image.mode
    if mode == "RGB":
        return image
    if mode == "CMYK":
        return _cmyk_to_rgb(image)
    if mode.startswith("I") or mode == "F":
        return _high_bit_depth_to_l(image).convert("RGB")
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif mode in _ALPHA_MODES or (mode in {"L", "RGB"} and "transparency" in image.info):
        image = image.convert("RGBA")
    if image.mode == "RGBA":
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, image).convert("RGB")
    return image.convert("RGB")


def open_image(source: ImageSource) -> Image.Image:
    """Decode ``source`` into an RGB image: EXIF orientation applied, first frame of an
    animation, alpha composited on white. Raises InvalidInput for data that is not a readable
    image and PayloadTooLarge for more pixels than ``CRIER_MAX_IMAGE_PIXELS``."""
    what = _describe(source)
    try:
        if isinstance(source, Image.Image):
            image = source
        elif isinstance(source, bytes | bytearray):
            image = Image.open(io.BytesIO(source))
        elif isinstance(source, str | Path):
            image = Image.open(Path(source))
        else:
            image = Image.open(source)
        width, height = image.size
        if width * height > _max_pixels():
            raise PayloadTooLarge(
                f"{what} has {width}x{height} pixels, more than the {_max_pixels()} allowed."
            )
        if getattr(image, "n_frames", 1) > 1:
            image.seek(0)
        image.load()
        orientation = _orientation(image)
        rgb = to_rgb(image)
        if rgb is image:
            rgb = image.copy()  # never hand back (or later mutate) the caller's object
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        EOFError,
        Image.DecompressionBombError,
    ) as exc:
        raise InvalidInput(f"{what} is not a readable image ({exc}).") from exc
    if orientation in _ORIENTATION_OPS:
        rgb = rgb.transpose(_ORIENTATION_OPS[orientation])
    return rgb


def resize_for_model(image: Image.Image, size: int, crop_fraction: float | None) -> Image.Image:
    """Bilinear resize to ``size``x``size``. With ``crop_fraction`` the short side is scaled to
    ``size / crop_fraction`` and the centre ``size``x``size`` kept (the ImageNet eval recipe);
    without it the whole image is squashed to a square."""
    if crop_fraction is None:
        return image.resize((size, size), Image.Resampling.BILINEAR)
    width, height = image.size
    # The centre crop expressed in source pixels, so one resize does both steps.
    side = min(width, height) * crop_fraction
    left, top = (width - side) / 2, (height - side) / 2
    return image.resize(
        (size, size), Image.Resampling.BILINEAR, box=(left, top, left + side, top + side)
    )


def scale_pixels(image: Image.Image, offset: float, scale: float) -> np.ndarray:
    """RGB image to a float32 HWC array ``(pixels - offset) / scale``."""
    pixels = np.asarray(image, dtype=np.float32)
    return (pixels - np.float32(offset)) / np.float32(scale)
