"""Checking that uploaded bytes really are an image we can use, by content, never by name."""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass, field

from django.conf import settings
from PIL import Image, UnidentifiedImageError

from corpora.exif import ExifFacts, read_exif
from crier_site.errors import InvalidInput, PayloadTooLarge

SUPPORTED_FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP", "GIF", "BMP", "TIFF"})
# Decoding a JPEG at reduced scale still reads the whole stream, so truncation is caught cheaply.
_DRAFT_SIZE = (256, 256)


@dataclass(frozen=True)
class ImageInfo:
    sha256: str
    width: int
    height: int
    format: str
    byte_size: int
    exif: ExifFacts = field(default_factory=ExifFacts)


def validate_image_bytes(data: bytes) -> ImageInfo:
    """Return facts about ``data`` or raise ``InvalidInput``/``PayloadTooLarge`` saying why not."""
    max_bytes = settings.CRIER_MAX_UPLOAD_BYTES
    if not data:
        raise InvalidInput("The file is empty.")
    if len(data) > max_bytes:
        raise PayloadTooLarge(
            f"The file is {_mib(len(data))}; the limit is {_mib(max_bytes)} per image."
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            width, height, fmt, exif = _decode_fully(data)
    except Image.DecompressionBombError as exc:
        raise InvalidInput(f"Refused as a decompression bomb: {exc}") from None
    except Image.DecompressionBombWarning as exc:
        raise InvalidInput(f"Refused as a decompression bomb: {exc}") from None
    except UnidentifiedImageError:
        raise InvalidInput("Not an image file (or an image format CRIER cannot read).") from None
    except InvalidInput:
        raise
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InvalidInput(f"The image is damaged and cannot be decoded: {exc}") from None
    return ImageInfo(
        sha256=hashlib.sha256(data).hexdigest(),
        width=width,
        height=height,
        format=fmt,
        byte_size=len(data),
        exif=exif,
    )


def _decode_fully(data: bytes) -> tuple[int, int, str, ExifFacts]:
    max_pixels = settings.CRIER_MAX_IMAGE_PIXELS
    with Image.open(io.BytesIO(data)) as image:
        fmt = (image.format or "").upper()
        if fmt not in SUPPORTED_FORMATS:
            raise InvalidInput(
                f"Unsupported image format {fmt or 'unknown'}; use one of "
                f"{', '.join(sorted(SUPPORTED_FORMATS - {'MPO'}))}."
            )
        width, height = image.size
        if width * height > max_pixels:
            raise InvalidInput(
                f"Refused as a decompression bomb: {width}×{height} pixels is over the limit "
                f"of {max_pixels:,} pixels."
            )
        image.verify()
    with Image.open(io.BytesIO(data)) as image:
        if fmt in {"JPEG", "MPO"}:
            image.draft("RGB", _DRAFT_SIZE)
        image.load()
        exif = read_exif(image)  # from the image just decoded: no second decode
    return width, height, ("JPEG" if fmt == "MPO" else fmt), exif


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB"
